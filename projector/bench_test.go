package projector

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

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

// recordArena holds journal records in one pointer-free buffer, the way a
// replay streams them from the journal: a benchmark that kept a million
// materialized records (or decoded events) alive would mostly measure the
// garbage collector scanning its own fixture.
type recordArena struct {
	buf  []byte
	offs []uint32 // start of each record in buf
}

func newRecordArena(recs []journal.Record) *recordArena {
	a := &recordArena{}
	for _, r := range recs {
		a.offs = append(a.offs, uint32(len(a.buf)))
		a.buf = binary.BigEndian.AppendUint64(a.buf, r.Seq)
		a.buf = binary.BigEndian.AppendUint64(a.buf, uint64(r.Time))
		for _, f := range []string{r.Type, r.SandboxID, r.ContainerID, string(r.Payload)} {
			a.buf = binary.AppendUvarint(a.buf, uint64(len(f)))
			a.buf = append(a.buf, f...)
		}
	}
	return a
}

func (a *recordArena) len() int { return len(a.offs) }

// record i, its strings and payload aliasing the arena (no allocation).
func (a *recordArena) record(i int) journal.Record {
	b := a.buf[a.offs[i]:]
	r := journal.Record{Seq: binary.BigEndian.Uint64(b), Time: int64(binary.BigEndian.Uint64(b[8:]))}
	b = b[16:]
	var fields [4][]byte
	for k := range fields {
		n, w := binary.Uvarint(b)
		fields[k], b = b[w:w+int(n)], b[w+int(n):]
	}
	str := func(f []byte) string {
		if len(f) == 0 {
			return ""
		}
		return unsafe.String(&f[0], len(f))
	}
	r.Type, r.SandboxID, r.ContainerID, r.Payload = str(fields[0]), str(fields[1]), str(fields[2]), fields[3]
	return r
}

// legalRecords returns n legal records of random lifecycles (the model
// test's generator without its junk, a steady state of about 50 pods),
// cached across benchmark runs.
var (
	arenaOnce  sync.Once
	arenaCache *recordArena
)

func legalRecords(b *testing.B, n int) *recordArena {
	arenaOnce.Do(func() {
		start := time.Now()
		arenaCache = newRecordArena(cleanRecords(generate(1, n+n/20))[:n])
		runtime.GC()
		b.Logf("generated %d records (%d MiB) in %v", n, len(arenaCache.buf)>>20, time.Since(start))
	})
	if arenaCache.len() < n {
		b.Fatalf("cache holds %d records, want %d", arenaCache.len(), n)
	}
	return arenaCache
}

// Apply throughput on decoded events (what a subscriber's private fold and
// the commit hook do after decoding); decoding happens in chunks outside
// the timer.
func BenchmarkApply(b *testing.B) {
	a := legalRecords(b, 1_000_000)
	const chunk = 4096
	evs := make([]Event, 0, chunk)
	s, next, k := NewState(), 0, 0
	b.ResetTimer()
	for range b.N {
		if k == len(evs) {
			b.StopTimer()
			if next == a.len() {
				s, next = NewState(), 0
			}
			evs, k = evs[:0], 0
			for ; next < a.len() && len(evs) < chunk; next++ {
				e, err := Decode(a.record(next))
				if err != nil {
					b.Fatal(err)
				}
				evs = append(evs, e)
			}
			b.StartTimer()
		}
		if err := s.Apply(evs[k]); err != nil {
			b.Fatal(err)
		}
		k++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// Decode alone: the protobuf cost of a replay.
func BenchmarkDecode(b *testing.B) {
	a := legalRecords(b, 1_000_000)
	i := 0
	for b.Loop() {
		if _, err := Decode(a.record(i)); err != nil {
			b.Fatal(err)
		}
		if i++; i == a.len() {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// The full fold of 1,000,000 journal records, decoding included: what a
// restart without any snapshot costs the projection.
func BenchmarkFold1M(b *testing.B) {
	a := legalRecords(b, 1_000_000)
	var s *State
	for b.Loop() {
		s = NewState()
		for i := range a.len() {
			if err := s.fold(a.record(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/fold")
	b.ReportMetric(float64(a.len()*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(s.sandboxes)+len(s.containers)+len(s.images)), "live-objects")
	b.ReportMetric(float64(s.removed.len()), "tombstones")
}

// Store.ApplyRecords in commit-sized batches, decoding included.
func BenchmarkStoreApplyRecords(b *testing.B) {
	a := legalRecords(b, 1_000_000)
	const batch = 32
	recs := make([]journal.Record, batch)
	st, i := NewStore(nil, nil), 0
	for b.Loop() {
		if i+batch > a.len() {
			b.StopTimer()
			st, i = NewStore(nil, nil), 0
			b.StartTimer()
		}
		for k := range recs {
			recs[k] = a.record(i + k)
		}
		st.ApplyRecords(recs)
		i += batch
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkClone(b *testing.B) {
	s := bigState(b, 1000, 3)
	for range 5000 {
		s.removed.add(fmt.Sprint(len(s.containers), s.removed.len()), s.seq)
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

// arenaSource serves an arena as a Replayer without snapshots.
type arenaSource struct{ a *recordArena }

func (s arenaSource) Snapshot(context.Context, uint64) (uint64, []byte, error) {
	return 0, nil, journal.ErrNoSnapshot
}

func (s arenaSource) Read(ctx context.Context, from, to uint64, fn func(journal.Record) error) error {
	for i := range s.a.len() {
		r := s.a.record(i)
		if r.Seq < from || (to != 0 && r.Seq > to) {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Load of 1,000,000 records without a snapshot: the restart path, decoding
// in parallel with the in-order fold. Compare with BenchmarkFold1M.
func BenchmarkLoad1M(b *testing.B) {
	a := legalRecords(b, 1_000_000)
	var s *State
	for b.Loop() {
		var err error
		if s, err = Load(context.Background(), arenaSource{a}, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/load")
	b.ReportMetric(float64(a.len()*b.N)/b.Elapsed().Seconds(), "events/s")
	_ = s
}

// Load of 1,000,000 records from a real journal file without a snapshot:
// what a restart costs when nothing was ever checkpointed, bbolt's reads
// included (the journal is written once, in batches of 1,000, outside the
// timer). Compare with BenchmarkLoad1M, whose records are in memory.
func BenchmarkLoadJournal1M(b *testing.B) {
	a := legalRecords(b, 1_000_000)
	j, err := journal.Open(b.TempDir()+"/journal.db", journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	batch := make([]journal.Record, 0, 1000)
	for i := range a.len() {
		r := a.record(i)
		r.Seq = 0 // the journal numbers them, in the same order
		if batch = append(batch, r); len(batch) == cap(batch) || i == a.len()-1 {
			if _, err := j.Append(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	for b.Loop() {
		s, err := Load(ctx, j, 0, nil)
		if err != nil || s.Seq() != uint64(a.len()) {
			b.Fatalf("Load: seq %d, %v", s.Seq(), err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/load")
}

// The memory a tombstone costs, measured over 100,000 removals of
// runtime-made IDs (64 hex characters, each its own string as a decoded
// record's is): heap bytes per tombstone, with the ID itself, and snapshot
// bytes per tombstone.
func BenchmarkTombstoneBytes(b *testing.B) {
	const n = 100_000
	raw := make([][]byte, n)
	for i := range raw {
		raw[i] = fmt.Appendf(nil, "%016x%048x", uint64(i+1)*0x9e3779b97f4a7c15, i)
	}
	var heap float64
	var s *State
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s = NewState()
		for i, id := range raw {
			s.removed.add(string(id), uint64(i+1))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc-before.HeapAlloc) / n
	}
	s.seq = n
	snap, err := s.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(heap, "heap-B/tombstone")
	b.ReportMetric(float64(len(snap))/n, "snapshot-B/tombstone")
}
