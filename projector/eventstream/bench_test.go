package eventstream

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

// BenchmarkDelivery measures the brief's event-delivery budget at the
// journal and projector level, with synthetic lifecycle records: 100 pods
// churn (each a goroutine appending a pod's whole life, one durable
// Append per transition, as the runtime journals them), 9 subscribers
// read every event, and a tenth subscriber either does not exist or is
// stalled (subscribed, never reading). b.N is the number of pod lives.
//
// Reported: delivery latency of the container exits (from the Append call
// to the subscriber's Next returning the STOPPED event; p50, p99, max
// over every exit and every reading subscriber) and the appenders'
// throughput (records/s). Compare stalled=no with stalled=yes: the stalled
// subscriber should cost nothing measurable.
func BenchmarkDelivery(b *testing.B) {
	// pace is the time a pod's side effects take between two of its
	// transitions (runc, mounts, CNI: tens of ms each in reality); 0
	// appends back to back, which saturates the disk.
	for _, pace := range []time.Duration{40 * time.Millisecond, 0} {
		for _, stalled := range []bool{false, true} {
			name := fmt.Sprintf("pace=%v/stalled=no", pace)
			if stalled {
				name = fmt.Sprintf("pace=%v/stalled=yes", pace)
			}
			b.Run(name, func(b *testing.B) { benchDelivery(b, 100, 9, stalled, pace) })
		}
	}
}

func benchDelivery(b *testing.B, pods, readers int, stalled bool, pace time.Duration) {
	e := newEnv(b, journal.Options{})
	ctx := context.Background()
	if stalled {
		s, err := Subscribe(ctx, e.j, e.store, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
	}
	subs := make([]*Subscription, readers)
	for i := range subs {
		s, err := Subscribe(ctx, e.j, e.store, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		subs[i] = s
	}
	// A pod life's records: ten transitions, one exit.
	type life struct{ recs []journal.Record }
	lifeOf := func(w, n int) life {
		sb, c := fmt.Sprintf("sb-%03d-%08d", w, n), fmt.Sprintf("c-%03d-%08d", w, n)
		return life{recs: []journal.Record{
			rec(b, sb, "", sandboxCreating(sb)),
			rec(b, sb, "", &events.SandboxReady{Pid: 10}),
			rec(b, sb, c, containerCreating(c)),
			rec(b, sb, c, &events.ContainerCreated{Pid: 11}),
			rec(b, sb, c, &events.ContainerStarted{Pid: 11}),
			rec(b, sb, c, &events.ContainerExited{ExitCode: 0}),
			rec(b, sb, "", &events.SandboxStopped{}),
			rec(b, sb, c, &events.ContainerRemoved{}),
			rec(b, sb, "", &events.SandboxNetworkTornDown{}),
			rec(b, sb, "", &events.SandboxRemoved{}),
		}}
	}
	const exitIndex = 5 // in a life's records
	lives := b.N
	exits := int64(lives)

	// Readers: every reader waits for every exit.
	lat := make([][]time.Duration, readers)
	var rg sync.WaitGroup
	for i, s := range subs {
		rg.Go(func() {
			for seen := int64(0); seen < exits; {
				ev, err := s.Next(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				now := time.Now()
				for _, m := range ev.Messages {
					if m.GetContainerEventType() == runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT && len(m.GetContainersStatuses()) > 0 && m.GetContainerId() != m.GetPodSandboxStatus().GetId() {
						lat[i] = append(lat[i], now.Sub(time.Unix(0, ev.Time)))
						seen++
					}
				}
			}
		})
	}

	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var appended atomic.Int64
	appendLat := make([][]time.Duration, pods)
	var wg sync.WaitGroup
	for w := range pods {
		wg.Go(func() {
			for {
				n := next.Add(1) - 1
				if n >= int64(lives) {
					return
				}
				l := lifeOf(w, int(n))
				for k, r := range l.recs {
					if pace > 0 {
						time.Sleep(pace)
					}
					// The record's time is the moment the runtime
					// journals the transition: for the exit, the
					// moment the exit is known.
					t0 := time.Now()
					r.Time = t0.UnixNano()
					if _, err := e.j.Append(ctx, r); err != nil {
						b.Error(err)
						return
					}
					if k == exitIndex {
						appendLat[w] = append(appendLat[w], time.Since(t0))
					}
					appended.Add(1)
				}
			}
		})
	}
	wg.Wait()
	appendTook := time.Since(start)
	rg.Wait()
	b.StopTimer()

	pct := func(ls [][]time.Duration, p float64) float64 {
		all := slices.Concat(ls...)
		if len(all) == 0 {
			b.Fatal("no exit measured")
		}
		slices.Sort(all)
		return float64(all[min(len(all)-1, int(float64(len(all))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.50), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(lat, 1), "max-ms")
	// The durable append alone, for the exits: what of the delivery
	// latency is the journal's fsync'd group commit.
	b.ReportMetric(pct(appendLat, 0.50), "append-p50-ms")
	b.ReportMetric(pct(appendLat, 0.99), "append-p99-ms")
	b.ReportMetric(float64(appended.Load())/appendTook.Seconds(), "records/s")
}

// BenchmarkNext is what one subscriber costs the daemon per record: the
// read from the ring, the decode, the fold into its private state and the
// CRI messages with every status of the pod, over a churn of pods.
func BenchmarkNext(b *testing.B) {
	e := newEnv(b, journal.Options{RingSize: 1 << 16})
	c := newChurn(b, 4)
	var recs []journal.Record
	for len(recs) < 20000 {
		recs = append(recs, c.step()...)
	}
	// The last record yields messages, so the reading loop below ends.
	recs = append(recs, podLife(b, "last", "last-c")...)
	if _, err := e.j.Append(context.Background(), recs...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		s, err := Resume(context.Background(), e.j, 0, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for s.Position() < uint64(len(recs)) {
			if _, err := s.Next(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}
