package metrics

import (
	"time"

	"github.com/logbook-cri/logbook/image"
	"github.com/prometheus/client_golang/prometheus"
)

// Image receives the image store's measurements as pulls and collections
// happen: bytes as they arrive from a registry (a pull's progress, summed
// over every pull), each unpacked layer, each pull's outcome and duration,
// and what each GC removed.
type Image struct {
	blobBytes      prometheus.Counter
	unpackedBytes  prometheus.Counter
	unpackDuration prometheus.Histogram
	pulls          *prometheus.CounterVec
	pullDuration   *prometheus.HistogramVec
	gcDuration     prometheus.Histogram
	gcBlobs        prometheus.Counter
	gcSnapshots    prometheus.Counter
}

var _ image.Metrics = (*Image)(nil)

// imageOutcomes are the labels image.Outcome can give, created up front so
// that a dashboard sees a zero rather than no series.
var imageOutcomes = []string{"ok", "invalid_argument", "not_found", "unauthenticated", "unavailable",
	"deadline_exceeded", "canceled", "internal"}

// NewImage creates the image collectors and registers them on reg.
func NewImage(reg prometheus.Registerer) (*Image, error) {
	m := &Image{
		blobBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "image", Name: "pull_bytes_total",
			Help: "Compressed bytes received from registries (blobs as they download).",
		}),
		unpackedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "image", Name: "unpacked_bytes_total",
			Help: "Uncompressed bytes of the layers unpacked into snapshots.",
		}),
		unpackDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "image", Name: "layer_unpack_duration_seconds",
			Help: "Time to unpack one layer into its snapshot (the count is the layers unpacked).",
			// A few ms for a small layer to a minute for a huge one.
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "image", Name: "pulls_total",
			Help: "Pulls the store performed (callers joining a pull in flight count once), by outcome (ok or the gRPC code's name).",
		}, []string{"outcome"}),
		pullDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "image", Name: "pull_duration_seconds",
			Help:    "Duration of each pull the store performed, resolve to last snapshot, by outcome.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"outcome"}),
		gcDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "image", Name: "gc_duration_seconds",
			Help:    "Duration of each garbage collection of the image store (the count is the runs).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		gcBlobs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "image", Name: "gc_removed_blobs_total",
			Help: "Blobs (manifests, configs, layers) garbage collection removed.",
		}),
		gcSnapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "image", Name: "gc_removed_snapshots_total",
			Help: "Layer snapshots garbage collection removed.",
		}),
	}
	for _, c := range []prometheus.Collector{m.blobBytes, m.unpackedBytes, m.unpackDuration, m.pulls,
		m.pullDuration, m.gcDuration, m.gcBlobs, m.gcSnapshots} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, o := range imageOutcomes {
		m.pulls.WithLabelValues(o)
	}
	return m, nil
}

// BlobBytes counts compressed bytes as they arrive.
func (m *Image) BlobBytes(n int) { m.blobBytes.Add(float64(n)) }

// LayerUnpacked records one layer unpacked into a snapshot.
func (m *Image) LayerUnpacked(bytes int64, took time.Duration) {
	m.unpackedBytes.Add(float64(bytes))
	m.unpackDuration.Observe(took.Seconds())
}

// PullDone records one pull the store performed.
func (m *Image) PullDone(outcome string, took time.Duration) {
	m.pulls.WithLabelValues(outcome).Inc()
	m.pullDuration.WithLabelValues(outcome).Observe(took.Seconds())
}

// GCDone records one garbage collection.
func (m *Image) GCDone(blobs, snapshots int, took time.Duration) {
	m.gcDuration.Observe(took.Seconds())
	m.gcBlobs.Add(float64(blobs))
	m.gcSnapshots.Add(float64(snapshots))
}
