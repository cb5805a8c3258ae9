package projector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector/internal/snapshotpb"
)

// tombstones returns a state's tombstones with their removal positions.
func tombstones(s *State) map[string]uint64 {
	m := map[string]uint64{}
	s.removed.each(func(id string, seq uint64) { m[id] = seq })
	return m
}

func wantTombstones(t *testing.T, what string, s *State, want map[string]uint64) {
	t.Helper()
	if got := tombstones(s); !maps.Equal(got, want) {
		t.Fatalf("%s: tombstones %v, want %v", what, got, want)
	}
	for id := range want {
		if !s.IDUsed(id) {
			t.Fatalf("%s: IDUsed(%s) is false", what, id)
		}
	}
}

// next decodes the fixture's next record (not folded into the fixture).
func (f *fixture) next(sandboxID, containerID string, m proto.Message) Event {
	f.t.Helper()
	e, err := Decode(f.record(sandboxID, containerID, m))
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// A state with sandboxes a, b and c removed at 4, 8 and 12.
func threeRemoved(t *testing.T) *fixture {
	f := newFixture(t)
	for _, id := range []string{"a", "b", "c"} {
		f.sandboxIn(id, SandboxRemoved)
	}
	wantTombstones(t, "fixture", f.s, map[string]uint64{"a": 4, "b": 8, "c": 12})
	return f
}

// The pruning rule: a tombstone goes once the horizon passes the record
// that removed it, and not before; a horizon beyond the state's next
// record waits for the fold to get there; the horizon never moves back.
func TestForgetRemovedBefore(t *testing.T) {
	f := threeRemoved(t)
	all := map[string]uint64{"a": 4, "b": 8, "c": 12}
	for _, tc := range []struct {
		before uint64
		forgot int
		left   map[string]uint64
	}{
		{0, 0, all},
		{1, 0, all},
		{4, 0, all}, // a was removed at 4, not before
		{5, 1, map[string]uint64{"b": 8, "c": 12}},
		{12, 2, map[string]uint64{"c": 12}},
		{13, 3, map[string]uint64{}}, // the state is at 12: everything
		{14, 0, all},                 // beyond the next record: pending
	} {
		t.Run(fmt.Sprint(tc.before), func(t *testing.T) {
			s := f.s.Clone() // shares the tombstones' base with f.s
			if got := s.ForgetRemovedBefore(tc.before); got != tc.forgot {
				t.Errorf("forgot %d, want %d", got, tc.forgot)
			}
			wantTombstones(t, "after", s, tc.left)
			for id := range all {
				if _, kept := tc.left[id]; !kept && s.IDUsed(id) {
					t.Errorf("IDUsed(%s) after it was forgotten", id)
				}
			}
			if back := mustUnmarshal(t, mustMarshal(t, s)); stateDiff(back, s) != "" {
				t.Errorf("snapshot round trip: %s", stateDiff(back, s))
			}
		})
	}
	wantTombstones(t, "the state the clones were taken from", f.s, all)

	// Pending: the fold of record 13 brings the state to the horizon.
	s := f.s.Clone()
	s.ForgetRemovedBefore(14)
	if err := s.Apply(f.next("", "", imagePulled(imageID(1)))); err != nil {
		t.Fatal(err)
	}
	wantTombstones(t, "pending horizon reached", s, map[string]uint64{})

	// Pending, with removals on the way: those before the horizon go too
	// once it is reached, those after stay.
	g := threeRemoved(t)
	s = g.s.Clone()
	s.ForgetRemovedBefore(17) // state at 12; d is removed at 16
	g.s = s
	g.sandboxIn("d", SandboxRemoved)
	wantTombstones(t, "pending horizon reached by removals", s, map[string]uint64{})
	g.sandboxIn("e", SandboxRemoved)
	wantTombstones(t, "removed after the horizon", s, map[string]uint64{"e": 20})

	// The horizon only moves forward.
	s = f.s.Clone()
	if s.ForgetRemovedBefore(9) != 2 || s.ForgetRemovedBefore(5) != 0 || s.forgetBefore != 9 {
		t.Fatalf("horizon moved back to %d", s.forgetBefore)
	}
	// A skipped record moves the state to the horizon as well.
	s = f.s.Clone()
	s.ForgetRemovedBefore(14)
	s.skip(13)
	wantTombstones(t, "after a skipped record", s, map[string]uint64{})
}

// The tombstone set forgets without touching a base it shares with a
// clone, and keeps its oldest position right.
func TestIDSetForget(t *testing.T) {
	var a idSet
	for i := range 1000 {
		a.add(fmt.Sprint("id", i), uint64(i+1))
	}
	b := a.clone()
	for i := 1000; i < 1100; i++ { // into b's recent map
		b.add(fmt.Sprint("id", i), uint64(i+1))
	}
	if n := b.forget(501); n != 500 || b.len() != 600 || b.oldest != 501 {
		t.Fatalf("forget(501): %d forgotten, %d left, oldest %d", n, b.len(), b.oldest)
	}
	if a.len() != 1000 || !a.has("id0") || a.oldest != 1 {
		t.Fatalf("the clone's forget changed the original: %d left", a.len())
	}
	if b.has("id499") || !b.has("id500") || !b.has("id1099") {
		t.Fatal("forget(501) kept or lost the wrong IDs")
	}
	if b.base.shared.Load() || b.recent != nil {
		t.Fatal("the survivors are not in a new, unshared base")
	}
	if n := b.forget(501); n != 0 {
		t.Fatalf("forgot %d again", n)
	}
	b.add("late", 2000)
	if n := b.forget(3000); n != 601 || b.len() != 0 || b.oldest != 0 || b.has("late") {
		t.Fatalf("forget all: %d forgotten, %d left", n, b.len())
	}
	b.add("again", 3000)
	if !b.has("again") || b.oldest != 3000 {
		t.Fatal("an emptied set does not take new IDs")
	}
}

// The live store forgets on ForgetRemovedBefore; the states that follow
// it (Snapshot clones, attached ones) forget the same at their next fold,
// and then equal the store again.
func TestStoreForgetsAndFollowersFollow(t *testing.T) {
	f := threeRemoved(t)
	store := NewStore(f.s.Clone(), nil)
	clone := store.Snapshot()
	attached := f.s.Clone()
	store.Attach(attached)
	free := f.s.Clone() // follows nothing

	if n := store.ForgetRemovedBefore(9); n != 2 {
		t.Fatalf("the store forgot %d tombstones, want 2", n)
	}
	if store.IDUsed("a") || store.IDUsed("b") || !store.IDUsed("c") {
		t.Fatal("IDUsed after the store forgot a and b")
	}
	if !clone.IDUsed("a") {
		t.Fatal("a follower forgot before its next fold")
	}
	later := store.Snapshot()
	wantTombstones(t, "a clone taken after", later, map[string]uint64{"c": 12})

	f.must("", "", imagePulled(imageID(1))) // record 13, for everyone
	store.ApplyRecords(f.recs[len(f.recs)-1:])
	for name, s := range map[string]*State{"clone": clone, "attached": attached, "free": free} {
		if err := s.Apply(f.lastEvent()); err != nil {
			t.Fatal(err)
		}
		if name == "free" {
			wantTombstones(t, name, s, map[string]uint64{"a": 4, "b": 8, "c": 12})
			continue
		}
		sameState(t, name, s, store.Snapshot())
	}
}

// The compaction path: a journal with objects removed before and within
// the window. Compact stores the snapshot at N-1 and the head without the
// old tombstones; the live store, told the journal's first record, forgets
// the same; a re-created ID still tombstoned is refused, while one whose
// removal was compacted away is not (the detector's reach is the window).
func TestCompactForgetsOldTombstones(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.sandboxIn("live", SandboxReady)
	f.containerIn("live", "old-ctr", ContainerRemoved)
	f.containerIn("old-pod", "old-pod-ctr", ContainerExited)
	f.must("old-pod", "", &events.SandboxStopped{})
	f.must("", "old-pod-ctr", &events.ContainerRemoved{})
	f.must("old-pod", "", &events.SandboxRemoved{})
	n := f.seq + 1 // the first record within the window
	f.containerIn("live", "young-ctr", ContainerRemoved)
	f.sandboxIn("young-pod", SandboxRemoved)
	f.containerIn("live", "running", ContainerRunning)
	old := map[string]uint64{}
	young := map[string]uint64{}
	for id, at := range tombstones(f.s) {
		if at < n {
			old[id] = at
		} else {
			young[id] = at
		}
	}
	if len(old) != 3 || len(young) != 2 {
		t.Fatalf("old tombstones %v, young %v", old, young)
	}

	j := newMemJournal(f.recs)
	store := NewStore(nil, nil)
	store.ApplyRecords(f.recs)
	follower := store.Snapshot() // a subscriber's private state

	window := time.Minute
	dropped, err := Compact(ctx, j, window, nowAfter(n-1, window))
	if err != nil || dropped != int(n-1) {
		t.Fatalf("Compact: dropped %d, %v", dropped, err)
	}
	wantTombstones(t, "snapshot at N-1", mustUnmarshal(t, j.snaps[n-1]), map[string]uint64{})
	wantTombstones(t, "head snapshot", mustUnmarshal(t, j.snaps[f.seq]), young)
	loaded := loadAll(t, j, 0)
	sameExceptTombstones(t, "Load after compaction", loaded, f.s, n)

	// The daemon's retention loop, after the pass.
	first, _, _ := j.Bounds(ctx)
	if forgot := store.ForgetRemovedBefore(first); forgot != len(old) {
		t.Fatalf("the store forgot %d tombstones, want %d", forgot, len(old))
	}
	wantTombstones(t, "live store", store.Snapshot(), young)
	sameState(t, "live store", store.Snapshot(), loaded)

	// A re-created ID still tombstoned is refused, by the store and by a
	// fold of the compacted journal alike.
	var te *TransitionError
	again := f.record("young-pod", "", sandboxCreating("young-pod"))
	store.ApplyRecords([]journal.Record{again})
	if store.Skipped() != 1 {
		t.Fatalf("the store folded a re-created young-pod (skipped %d)", store.Skipped())
	}
	e, _ := Decode(again)
	if err := loaded.Clone().Apply(e); !errors.As(err, &te) || te.From != SandboxRemoved.String() {
		t.Fatalf("re-creating young-pod after compaction: %v", err)
	}
	if err := follower.Apply(e); !errors.As(err, &te) {
		t.Fatalf("a follower folded a re-created young-pod: %v", err)
	}
	// The follower forgets with its next fold.
	wantTombstones(t, "follower before its next fold", follower, tombstones(f.s))
	if err := follower.Apply(f.next("", "", imagePulled(imageID(1)))); err != nil {
		t.Fatal(err)
	}
	wantTombstones(t, "follower", follower, young)
	// One removed before the window is not: its removal is gone.
	e, _ = Decode(f.record("old-pod", "", sandboxCreating("old-pod")))
	if err := loaded.Clone().Apply(e); err != nil {
		t.Fatalf("re-creating old-pod after compaction: %v", err)
	}
}

// oldFormat is how the build before removal positions wrote s: the same
// message without removed_seqs and forget_removed_before.
func oldFormat(t *testing.T, s *State) []byte {
	t.Helper()
	b := mustMarshal(t, s)
	var pb snapshotpb.State
	if err := proto.Unmarshal(b[snapshotHeader:], &pb); err != nil {
		t.Fatal(err)
	}
	pb.RemovedSeqs, pb.ForgetRemovedBefore = nil, 0
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	return wrap(snapshotVersion, body)
}

// A snapshot written before removal positions were kept loads; its
// tombstones count as removed at its own position, so they last until a
// retention pass goes past it.
func TestSnapshotWithoutRemovalPositions(t *testing.T) {
	// Made by hand, as the previous build wrote it.
	pb := &snapshotpb.State{
		Seq: 10,
		Sandboxes: []*snapshotpb.Sandbox{{
			Id: "s1", State: uint32(SandboxReady), FirstSeq: 1, LastSeq: 2,
			Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "s1"}},
		}},
		RemovedIds: []string{"old-a", "old-b"},
	}
	body, err := proto.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	s, err := UnmarshalState(wrap(snapshotVersion, body))
	if err != nil {
		t.Fatal(err)
	}
	wantTombstones(t, "old snapshot", s, map[string]uint64{"old-a": 10, "old-b": 10})
	if n := s.ForgetRemovedBefore(10); n != 0 {
		t.Fatalf("a pass up to the snapshot forgot %d", n)
	}
	if n := s.ForgetRemovedBefore(11); n != 2 {
		t.Fatalf("a pass past the snapshot forgot %d, want 2", n)
	}

	// In a journal: the previous build compacted before 7 (an old
	// snapshot at 6 holds old-a) and checkpointed at 12 (old-a, old-b).
	ctx := context.Background()
	f := newFixture(t)
	f.sandboxIn("old-a", SandboxRemoved) // 1..4
	f.sandboxIn("live", SandboxReady)    // 5, 6
	f.sandboxIn("old-b", SandboxRemoved) // 7..10
	f.must("", "", imagePulled(imageID(1)))
	f.must("", "", imagePulled(imageID(2))) // 12
	f.sandboxIn("young", SandboxRemoved)    // 13..16
	j := newMemJournal(f.recs)
	j.snaps[6] = oldFormat(t, replay(f.recs[:6]))
	j.snaps[12] = oldFormat(t, replay(f.recs[:12]))
	j.recs, j.first = j.recs[6:], 7

	head := loadAll(t, j, 0) // the daemon's start: from the checkpoint
	wantTombstones(t, "Load from the old checkpoint", head, map[string]uint64{"old-a": 12, "old-b": 12, "young": 16})
	e, _ := Decode(f.record("old-a", "", sandboxCreating("old-a")))
	if err := head.Clone().Apply(e); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("re-creating old-a: %v", err)
	}
	// From the old compaction's snapshot: old-a was removed before the
	// first retained record, as far as anyone can tell.
	wantTombstones(t, "Load from the old base", loadAll(t, j, 8), map[string]uint64{})
	wantTombstones(t, "Load from the old base", loadAll(t, j, 11), map[string]uint64{"old-b": 10})

	// A pass that stops short of the checkpoint: the live store, loaded
	// from it, keeps old-a and old-b (more than a fresh Load, never less).
	store := NewStore(head, nil)
	if _, err := Compact(ctx, j, time.Minute, nowAfter(11, time.Minute)); err != nil || j.first != 12 {
		t.Fatalf("Compact before 12: first %d, %v", j.first, err)
	}
	store.ForgetRemovedBefore(j.first)
	wantTombstones(t, "store after a pass before 12", store.Snapshot(), map[string]uint64{"old-a": 12, "old-b": 12, "young": 16})
	wantTombstones(t, "Load after a pass before 12", loadAll(t, j, 0), map[string]uint64{"young": 16})
	// The next pass past it forgets them.
	if _, err := Compact(ctx, j, time.Minute, nowAfter(12, time.Minute)); err != nil || j.first != 13 {
		t.Fatalf("Compact before 13: first %d, %v", j.first, err)
	}
	if n := store.ForgetRemovedBefore(j.first); n != 2 {
		t.Fatalf("the pass past the old snapshot forgot %d, want 2", n)
	}
	sameState(t, "store after a pass past the old snapshot", store.Snapshot(), loadAll(t, j, 0))
}

// Forgetting in the store while a follower folds on another goroutine (as
// a subscriber does): the horizon is shared safely (run with -race), and
// once both have folded the same records after the last pass they are
// equal.
func TestForgetWhileFollowersFold(t *testing.T) {
	recs := cleanRecords(generate(7, 3000))
	last := recs[len(recs)-1]
	recs = recs[:len(recs)-1]
	store := NewStore(nil, nil)
	store.ApplyRecords(recs[:1000])
	follower := store.Snapshot()
	done := make(chan error)
	go func() {
		for _, r := range recs[1000:] {
			if err := follower.fold(r); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	store.ApplyRecords(recs[1000:])
	forgot, h := 0, uint64(0)
	for h+100 <= uint64(len(recs)) {
		h += 100
		forgot += store.ForgetRemovedBefore(h)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if forgot == 0 {
		t.Fatal("nothing forgotten")
	}
	store.ApplyRecords([]journal.Record{last})
	if err := follower.fold(last); err != nil {
		t.Fatal(err)
	}
	sameState(t, "follower", follower, store.Snapshot())
	sameState(t, "store", store.Snapshot(), forgotten(replay(append(recs, last)), h))
}
