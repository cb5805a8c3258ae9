package projector

import (
	"fmt"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

// bigState has pods Ready sandboxes with perPod containers each, half of
// them Running and half Exited, with labels to select on.
func bigState(b *testing.B, pods, perPod int) *State {
	f := newFixture(b)
	for p := range pods {
		sid := benchSandboxID(p)
		cr := sandboxCreating(sid)
		cr.Config.Labels = map[string]string{"app": fmt.Sprintf("app%d", p%10), "pod": sid[56:]}
		f.must(sid, "", cr)
		f.must(sid, "", sandboxReady(sid))
		for c := range perPod {
			cid := fmt.Sprintf("%064x", 1<<40+p*perPod+c)
			cc := containerCreating(cid)
			cc.Config.Labels = map[string]string{"app": fmt.Sprintf("app%d", p%10), "ctr": fmt.Sprint(c)}
			f.must(sid, cid, cc)
			f.must("", cid, &events.ContainerCreated{Pid: 1})
			f.must("", cid, &events.ContainerStarted{Pid: 1})
			if c%2 == 1 {
				f.must("", cid, &events.ContainerExited{})
			}
		}
	}
	return f.s
}

// benchSandboxID spreads IDs like random ones, so short prefixes are unique.
func benchSandboxID(p int) string {
	return fmt.Sprintf("%016x%048x", uint64(p+1)*0x9e3779b97f4a7c15, p)
}

// The budget: ListContainers / ListPodSandbox with 1,000 objects under
// 2 ms end to end. These measure the projection's part: the filtered list
// and, as the CRI handler does, the conversion of each object.
func BenchmarkListContainers1000(b *testing.B) {
	s := bigState(b, 250, 4)
	store := NewStore(s, nil)
	for _, bc := range []struct {
		name string
		f    *runtimeapi.ContainerFilter
		n    int
	}{
		{"all", nil, 1000},
		{"running", &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}, 500},
		{"label", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"app": "app3"}}, 100},
		{"pod", &runtimeapi.ContainerFilter{PodSandboxId: benchSandboxID(7)}, 4},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				list := store.ListContainers(bc.f)
				if len(list) != bc.n {
					b.Fatalf("%d containers, want %d", len(list), bc.n)
				}
			}
		})
		b.Run(bc.name+"+CRI", func(b *testing.B) {
			for b.Loop() {
				list := store.ListContainers(bc.f)
				out := make([]*runtimeapi.Container, len(list))
				for i, c := range list {
					out[i] = c.CRI()
				}
			}
		})
	}
}

func BenchmarkListPodSandbox1000(b *testing.B) {
	store := NewStore(bigState(b, 1000, 0), nil)
	for _, bc := range []struct {
		name string
		f    *runtimeapi.PodSandboxFilter
		n    int
	}{
		{"all", nil, 1000},
		{"label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "app3"}}, 100},
		{"id", &runtimeapi.PodSandboxFilter{Id: benchSandboxID(500)}, 1},
		{"id-prefix", &runtimeapi.PodSandboxFilter{Id: benchSandboxID(500)[:12]}, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if got := len(store.ListSandboxes(bc.f)); got != bc.n {
					b.Fatalf("%d sandboxes, want %d", got, bc.n)
				}
			}
		})
		b.Run(bc.name+"+CRI", func(b *testing.B) {
			for b.Loop() {
				list := store.ListSandboxes(bc.f)
				out := make([]*runtimeapi.PodSandbox, len(list))
				for i, sb := range list {
					out[i] = sb.CRI()
				}
			}
		})
	}
}

// legalRecords returns n legal records of random lifecycles (the model
// test's generator without its junk), cached across benchmark runs.
var (
	recsOnce  sync.Once
	recsCache []journal.Record
)

func legalRecords(b *testing.B, n int) []journal.Record {
	recsOnce.Do(func() {
		start := time.Now()
		recsCache = cleanRecords(generate(1, n+n/20))[:n]
		b.Logf("generated %d records in %v", n, time.Since(start))
	})
	if len(recsCache) < n {
		b.Fatalf("cache holds %d records, want %d", len(recsCache), n)
	}
	return recsCache[:n]
}

// Apply throughput on decoded events (what a subscriber's private fold and
// the commit hook do after decoding).
func BenchmarkApply(b *testing.B) {
	recs := legalRecords(b, 1_000_000)
	evs := make([]Event, 0, len(recs))
	for _, r := range recs {
		e, err := Decode(r)
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, e)
	}
	b.ResetTimer()
	var s *State
	i := len(evs)
	for b.Loop() {
		if i == len(evs) {
			b.StopTimer()
			s, i = NewState(), 0
			b.StartTimer()
		}
		if err := s.Apply(evs[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// The full fold of 1,000,000 journal records, decoding included: what a
// restart without any snapshot costs the projection.
func BenchmarkFold1M(b *testing.B) {
	recs := legalRecords(b, 1_000_000)
	var s *State
	for b.Loop() {
		s = NewState()
		for _, r := range recs {
			if err := s.fold(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/fold")
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(s.sandboxes)+len(s.containers)+len(s.images)), "live-objects")
}

// Store.ApplyRecords in commit-sized batches, decoding included.
func BenchmarkStoreApplyRecords(b *testing.B) {
	recs := legalRecords(b, 1_000_000)
	const batch = 32
	var st *Store
	i := len(recs)
	for b.Loop() {
		if i+batch > len(recs) {
			b.StopTimer()
			st, i = NewStore(nil, nil), 0
			b.StartTimer()
		}
		st.ApplyRecords(recs[i : i+batch])
		i += batch
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkClone(b *testing.B) {
	s := bigState(b, 1000, 3)
	for range 5000 {
		s.removed.add(fmt.Sprint(len(s.containers), s.removed.len()))
	}
	for b.Loop() {
		_ = s.Clone()
	}
}

func BenchmarkSnapshot(b *testing.B) {
	s := bigState(b, 1000, 3)
	data, err := s.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run("unmarshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := UnmarshalState(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// One PodSandboxStatus-sized CRI event (pod of 4 containers).
func BenchmarkCRIEvents(b *testing.B) {
	f := newFixture(b)
	f.sandboxIn("sb", SandboxReady)
	for i := range 3 {
		f.containerIn("sb", fmt.Sprint("c", i), ContainerRunning)
	}
	f.must("sb", "c9", containerCreating("c9"))
	f.must("", "c9", &events.ContainerCreated{})
	e := f.lastEvent()
	for b.Loop() {
		if len(f.s.CRIEvents(e)) != 1 {
			b.Fatal("no event")
		}
	}
}
