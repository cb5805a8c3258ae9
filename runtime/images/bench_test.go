package images

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// BenchRegistryEnv names the loopback registry (host:port) serving the
// benchmark image logbook.test/bench/big:100m (`testimages build --bench`,
// then `testimages serve`); hack/bench.sh sets it.
const BenchRegistryEnv = "LOGBOOK_BENCH_REGISTRY"

const benchRef = "logbook.test/bench/big:100m"

// BenchmarkPullBig measures PullImage of the 100 MiB multi-layer benchmark
// image from the loopback registry into an empty store, end to end: the
// registry round trips, download and digest checks, unpacking into
// snapshots with their fsyncs, and the journal append. Each iteration
// starts from a fresh root. MB/s is the image's compressed size per second.
func BenchmarkPullBig(b *testing.B) {
	addr := os.Getenv(BenchRegistryEnv)
	if addr == "" {
		b.Skipf("%s is not set (hack/bench.sh serves the benchmark image)", BenchRegistryEnv)
	}
	mirrors := map[string][]string{"logbook.test": {"http://" + addr}}
	var size int64
	var took []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, err := os.MkdirTemp("", "bench-pull-")
		if err != nil {
			b.Fatal(err)
		}
		svc, closeAll := benchService(b, dir, mirrors)
		b.StartTimer()
		start := time.Now()
		id, err := svc.Pull(context.Background(), benchRef, nil)
		took = append(took, time.Since(start))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		img, _ := svc.cfg.Projection.Image(id)
		size = int64(img.Size)
		closeAll()
		os.RemoveAll(dir)
	}
	b.SetBytes(size)
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
}

// benchService builds the aggregate on a fresh journal, projection and
// store under dir.
func benchService(b *testing.B, dir string, mirrors map[string][]string) (*Service, func()) {
	layout := runtime.Layout{Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state")}
	if err := os.MkdirAll(layout.Root, 0o700); err != nil {
		b.Fatal(err)
	}
	var proj *projector.Store
	j, err := journal.Open(layout.Journal(), journal.Options{OnCommit: func(recs []journal.Record) { proj.ApplyRecords(recs) }})
	if err != nil {
		b.Fatal(err)
	}
	proj = projector.NewStore(nil, nil)
	store, err := image.Open(layout.Images(), image.Options{Mirrors: mirrors, Transport: loopbackOnly()})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := New(Config{Store: store, Projection: proj, Recorder: runtime.Recorder{Journal: j}, Layout: layout})
	if err != nil {
		b.Fatal(err)
	}
	return svc, func() {
		store.Close()
		j.Close()
	}
}
