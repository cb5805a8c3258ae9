package projector

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

func TestStoreSkipsAndLogsBadRecords(t *testing.T) {
	f := newFixture(t)
	f.containerIn("sb", "c", ContainerRunning)
	good := f.recs

	var logs bytes.Buffer
	st := NewStore(nil, slog.New(slog.NewTextHandler(&logs, nil)))
	st.ApplyRecords(good[:3])
	// A duplicate delivery (the commit hook overlapping a startup replay)
	// is ignored silently.
	st.ApplyRecords(good[:2])
	if st.Skipped() != 0 || logs.Len() != 0 {
		t.Fatalf("duplicates counted or logged: %d %q", st.Skipped(), logs.String())
	}
	next := uint64(len(good) + 1)
	bad := []journal.Record{
		{Seq: next, Type: string(events.ContainerCreatedType), ContainerID: "c"}, // c is Running: illegal
		{Seq: next + 1, Type: "container.teleported", ContainerID: "c"},
	}
	st.ApplyRecords(append(good[3:], bad...))
	if st.Skipped() != 2 {
		t.Fatalf("Skipped = %d, want 2", st.Skipped())
	}
	if st.Seq() != next+1 {
		t.Fatalf("Seq = %d, want %d: the store steps over what it cannot fold", st.Seq(), next+1)
	}
	for _, want := range []string{"seq=" + itoa(next), "illegal transition", "seq=" + itoa(next+1), "unknown event type"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	c, ok := st.Container("c")
	if !ok || c.State != ContainerRunning {
		t.Fatalf("container after skipped records: %+v", c)
	}
	sameState(t, "store", st.Snapshot(), replay(append(good, bad...)))
}

func itoa(n uint64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestStoreReadsMirrorState(t *testing.T) {
	f := filterFixture(t)
	f.must("", "", imagePulled(imageID(4)))
	f.must("", "", &events.ImageTagged{ImageId: imageID(4), Name: "docker.io/library/busybox:latest"})
	st := NewStore(nil, nil)
	st.ApplyRecords(f.recs)
	s := f.s
	sameState(t, "store", st.Snapshot(), s)

	if got, _ := st.Sandbox("aaa1"); got == nil || got.LastSeq != s.sandboxes["aaa1"].LastSeq {
		t.Error("Sandbox")
	}
	if got, _ := st.Container("c-run"); got == nil || got.LastSeq != s.containers["c-run"].LastSeq {
		t.Error("Container")
	}
	if got, _ := st.Image("busybox"); got == nil || got.ID != imageID(4) {
		t.Error("Image")
	}
	if _, ok := st.Sandbox("zzz9"); ok {
		t.Error("Creating sandbox visible through the store")
	}
	sb, ctrs, seq, ok := st.Pod("aaa1")
	if !ok || sb.ID != "aaa1" || len(ctrs) != 3 || seq != s.Seq() {
		t.Errorf("Pod = %v %d %d %v", sb, len(ctrs), seq, ok)
	}
	if got := st.ContainersOf("aaa1"); len(got) != 3 {
		t.Errorf("ContainersOf = %d", len(got))
	}
	sbs, cs := st.Creating()
	if len(sbs) != 1 || sbs[0].ID != "zzz9" || len(cs) != 1 || cs[0].ID != "c-tmp" {
		t.Errorf("Creating = %v %v", sbs, cs)
	}
	if got, ok := st.SandboxByMetadata(s.sandboxes["zzz9"].Config.Metadata); !ok || got.ID != "zzz9" {
		t.Error("SandboxByMetadata misses a Creating sandbox")
	}
	if got, ok := st.ContainerByMetadata("aaa1", s.containers["c-tmp"].Config.Metadata); !ok || got.ID != "c-tmp" {
		t.Error("ContainerByMetadata misses a Creating container")
	}
	if !st.IDUsed("zzz9") || st.IDUsed("fresh") {
		t.Error("IDUsed")
	}
	ready := &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{}}
	if a, b := st.ListSandboxes(ready), s.ListSandboxes(ready); len(a) != 2 || len(a) != len(b) || a[0].ID != b[0].ID || a[1].ID != b[1].ID {
		t.Error("ListSandboxes")
	}
	if a, b := st.ListContainers(nil), s.ListContainers(nil); len(a) != 5 || len(a) != len(b) || a[0].ID != b[0].ID || a[4].ID != b[4].ID {
		t.Error("ListContainers")
	}
	if len(st.ListImages(nil)) != 1 {
		t.Error("ListImages")
	}
}

// Readers run while the commit hook folds: no data race (go test -race),
// every object a reader got stays as it was, and a reader's list is always
// that of one journal position.
func TestStoreConcurrentReaders(t *testing.T) {
	g := generate(42, 3000)
	st := NewStore(nil, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := st.Snapshot()
				before := mustMarshalNoT(snap)
				list := st.ListContainers(nil)
				for _, c := range list {
					_ = c.CRIStatus()
					if c.State == ContainerCreating {
						errs <- "a Creating container was listed"
						return
					}
				}
				_ = st.ListSandboxes(nil)
				if !bytes.Equal(before, mustMarshalNoT(snap)) {
					errs <- "a snapshot changed while the store folded on"
					return
				}
			}
		}()
	}
	for i := 0; i < len(g.recs); i += 7 {
		st.ApplyRecords(g.recs[i:min(i+7, len(g.recs))])
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	sameState(t, "store", st.Snapshot(), replay(g.recs))
}

func mustMarshalNoT(s *State) []byte {
	b, err := s.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func TestNewStoreContinuesFromState(t *testing.T) {
	g := generate(7, 600)
	half := len(g.recs) / 2
	st := NewStore(replay(g.recs[:half]), slog.New(slog.NewTextHandler(io.Discard, nil)))
	st.ApplyRecords(g.recs) // the first half is ignored as already folded
	if st.Skipped() != uint64(len(g.junk)-countBelow(g.junk, uint64(half))) {
		t.Fatalf("Skipped = %d", st.Skipped())
	}
	sameState(t, "store", st.Snapshot(), replay(g.recs))
}

func countBelow(m map[uint64]bool, seq uint64) int {
	n := 0
	for s := range m {
		if s <= seq {
			n++
		}
	}
	return n
}
