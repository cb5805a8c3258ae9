package image

import "time"

// Metrics receives the store's measurements; package metrics implements
// it. Calls come from pull goroutines and must not block.
type Metrics interface {
	// BlobBytes is called as compressed bytes arrive from a registry.
	BlobBytes(n int)
	// LayerUnpacked is called after each layer is unpacked into a snapshot,
	// with its uncompressed size and the time unpacking took.
	LayerUnpacked(bytes int64, took time.Duration)
	// PullDone is called once per pull the store performed (callers that
	// joined a pull in flight do not count again), with Outcome's label.
	PullDone(outcome string, took time.Duration)
	// GCDone is called after each GC with what it removed.
	GCDone(blobs, snapshots int, took time.Duration)
}

type nopMetrics struct{}

func (nopMetrics) BlobBytes(int)                      {}
func (nopMetrics) LayerUnpacked(int64, time.Duration) {}
func (nopMetrics) PullDone(string, time.Duration)     {}
func (nopMetrics) GCDone(int, int, time.Duration)     {}

var _ Metrics = nopMetrics{}
