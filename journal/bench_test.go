package journal

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAppend measures durable appends of one ~200-byte event per call
// from 1, 8 and 32 concurrent appenders: each call returns only once its
// group commit is fsync'd. Budget: >= 20,000 events/s at 32 appenders.
func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			metrics := &fakeMetrics{}
			j := openT(b, filepath.Join(b.TempDir(), "journal.db"), Options{Metrics: metrics})
			ctx := context.Background()
			recs := make([]Record, 1024)
			for i := range recs {
				recs[i] = testRecord(i)
			}
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range appenders {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, err := j.Append(ctx, recs[i%int64(len(recs))]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			metrics.mu.Lock()
			if metrics.commits > 0 {
				b.ReportMetric(float64(metrics.committed)/float64(metrics.commits), "events/commit")
				b.ReportMetric(metrics.took.Seconds()*1e3/float64(metrics.commits), "ms/commit")
			}
			metrics.mu.Unlock()
		})
	}
}

// BenchmarkTailFanout measures delivery to N following subscribers while
// one more subscriber sits stalled at the start: events/s is the rate at
// which each following subscriber receives the b.N appended events (8
// appenders of 32-event batches produce them). The stalled one must not
// slow anybody.
func BenchmarkTailFanout(b *testing.B) {
	for _, subs := range []int{1, 50} {
		b.Run(fmt.Sprintf("subscribers=%d+1stalled", subs), func(b *testing.B) {
			j := openT(b, filepath.Join(b.TempDir(), "journal.db"), Options{})
			ctx := context.Background()
			stalled, err := j.Tail(ctx, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer stalled.Close()
			curs := make([]BatchCursor, subs)
			for i := range curs {
				c, err := j.Tail(ctx, 1)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				curs[i] = c.(BatchCursor)
			}
			const batch = 32
			recs := make([]Record, batch)
			for i := range recs {
				recs[i] = testRecord(i)
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, c := range curs {
				wg.Go(func() {
					for got := 0; got < b.N; {
						rs, err := c.NextBatch(ctx, 0)
						if err != nil {
							b.Error(err)
							return
						}
						got += len(rs)
					}
				})
			}
			var next atomic.Int64
			for range 8 {
				wg.Go(func() {
					for {
						n := min(int64(batch), int64(b.N)-next.Add(batch)+batch)
						if n <= 0 {
							return
						}
						if _, err := j.Append(ctx, recs[:n]...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkReplay measures a restart's replay: a fresh Open of a journal
// of 1,000,000 ~200-byte events (built once, in batches of 10,000) and a
// Read of every record. Budget: under 2 s. The file is in the page cache,
// as it is on a daemon restart that is not a reboot.
func BenchmarkReplay(b *testing.B) {
	const events, batch = 1_000_000, 10_000
	path := filepath.Join(b.TempDir(), "journal.db")
	j, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	recs := make([]Record, batch)
	start := time.Now()
	for n := 0; n < events; n += batch {
		for i := range recs {
			recs[i] = testRecord(n + i)
		}
		if _, err := j.Append(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	size := j.Stats().SizeBytes
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d events (%d MiB) in %v", events, size>>20, time.Since(start).Round(time.Millisecond))

	b.Run("events=1M", func(b *testing.B) {
		cpu0 := cpuTime()
		for b.Loop() {
			j, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			if err := j.Read(ctx, 0, 0, func(Record) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != events {
				b.Fatalf("replayed %d events, want %d", n, events)
			}
			if err := j.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/replay")
		// CPU time (all threads, GC included) tells what a busy machine's
		// wall clock hides.
		b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/replay")
		b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkDecode measures decoding one stored envelope (checksum, fields,
// copies), the per-record cost of a replay.
func BenchmarkDecode(b *testing.B) {
	vals := make([][]byte, 1024)
	for i := range vals {
		r := testRecord(i)
		r.Seq = uint64(i + 1)
		vals[i] = appendEnvelope(nil, &r)
	}
	in := newInterner()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % len(vals)
		if _, err := decodeEnvelope(seqKey(uint64(k+1)), vals[k], in); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
