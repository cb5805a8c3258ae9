package projector

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

// ageAt returns the "now" at which records up to seq are older than window
// and seq+1 is younger (records are 1 ms apart from baseTime).
func nowAfter(seq uint64, window time.Duration) time.Time {
	return time.Unix(0, timeOf(seq)).Add(window).Add(500 * time.Microsecond)
}

func loadAll(t *testing.T, j Replayer, to uint64) *State {
	t.Helper()
	s, err := Load(context.Background(), j, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompact(t *testing.T) {
	ctx := context.Background()
	recs := cleanRecords(generate(11, 2000))
	j := newMemJournal(recs)
	last := j.last
	full := replay(j.recs)
	window := time.Hour

	// Nothing old enough: nothing happens at all.
	dropped, err := Compact(ctx, j, window, nowAfter(0, window))
	if err != nil || dropped != 0 || len(j.calls) != 0 {
		t.Fatalf("young journal: dropped %d, err %v, calls %v", dropped, err, j.calls)
	}

	// Records 1..700 are older than the window.
	dropped, err = Compact(ctx, j, window, nowAfter(700, window))
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 700 || j.first != 701 {
		t.Fatalf("dropped %d, first %d; want 700, 701", dropped, j.first)
	}
	if want := []string{"put 700", "put " + itoa(last), "compact 701"}; !slices.Equal(j.calls, want) {
		t.Fatalf("calls %v, want %v", j.calls, want)
	}
	// The snapshot at 700 holds no tombstone (every one was made by a
	// record now dropped), the head snapshot those made from 701 on.
	if s := mustUnmarshal(t, j.snaps[700]); s.removed.len() != 0 {
		t.Fatalf("the snapshot at 700 holds %d tombstones", s.removed.len())
	}
	sameExceptTombstones(t, "snapshot at 700", mustUnmarshal(t, j.snaps[700]), replay(recs[:700]), 701)
	sameExceptTombstones(t, "head snapshot", mustUnmarshal(t, j.snaps[last]), full, 701)
	// A reader of the compacted journal sees the same states as before,
	// less the tombstones removed before 701.
	sameExceptTombstones(t, "Load head", loadAll(t, j, 0), full, 701)
	sameExceptTombstones(t, "Load at 900", loadAll(t, j, 900), replay(recs[:900]), 701)
	sameExceptTombstones(t, "Load at 700", loadAll(t, j, 700), replay(recs[:700]), 701)
	if _, err := Load(ctx, j, 699, nil); err == nil {
		t.Fatal("Load before the first retained snapshot succeeded")
	}

	// Again, further: starts from the snapshot at 700 (no full replay
	// exists any more) and replaces it.
	j.calls = nil
	dropped, err = Compact(ctx, j, window, nowAfter(1500, window))
	if err != nil || dropped != 800 || j.first != 1501 {
		t.Fatalf("second compaction: dropped %d first %d err %v", dropped, j.first, err)
	}
	if _, ok := j.snaps[700]; ok {
		t.Fatal("the superseded snapshot was kept")
	}
	if want := []string{"put 1500", "put " + itoa(last), "compact 1501"}; !slices.Equal(j.calls, want) {
		t.Fatalf("calls %v, want %v", j.calls, want)
	}
	sameExceptTombstones(t, "Load head after two", loadAll(t, j, 0), full, 1501)
	sameExceptTombstones(t, "Load at 1600", loadAll(t, j, 1600), replay(recs[:1600]), 1501)

	// Everything old: all records go; the head snapshot, rewritten without
	// the tombstones it held, is the whole state.
	j.calls = nil
	dropped, err = Compact(ctx, j, window, nowAfter(last+10, window))
	if err != nil || dropped != int(last-1500) || j.first != last+1 {
		t.Fatalf("full compaction: dropped %d first %d err %v", dropped, j.first, err)
	}
	if want := []string{"put " + itoa(last), "compact " + itoa(last+1)}; !slices.Equal(j.calls, want) {
		t.Fatalf("calls %v, want %v (the head snapshot rewritten)", j.calls, want)
	}
	sameExceptTombstones(t, "Load of an emptied journal", loadAll(t, j, 0), full, last+1)
	if dropped, err := Compact(ctx, j, window, nowAfter(last+10, window)); err != nil || dropped != 0 {
		t.Fatalf("compacting an empty journal: %d %v", dropped, err)
	}
}

// cleanRecords drops the generator's junk records and renumbers the rest
// densely (the generator's model never saw the junk, so the rest is legal).
func cleanRecords(g *gen) []journal.Record {
	var out []journal.Record
	for _, r := range g.recs {
		if g.junk[r.Seq] {
			continue
		}
		r.Seq = uint64(len(out) + 1)
		r.Time = timeOf(r.Seq)
		out = append(out, r)
	}
	return out
}

func mustUnmarshal(t *testing.T, b []byte) *State {
	t.Helper()
	s, err := UnmarshalState(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A live subscriber's cursor holds compaction back.
func TestCompactKeepsWhatCursorsNeed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for i := range 50 {
		f.must("", "", imagePulled(imageID(i)))
	}
	j := newMemJournal(f.recs)
	j.cursors = []uint64{51, 20, 30} // 51: caught up
	dropped, err := Compact(ctx, j, time.Minute, nowAfter(40, time.Minute))
	if err != nil || dropped != 19 || j.first != 20 {
		t.Fatalf("dropped %d first %d err %v, want 19 20", dropped, j.first, err)
	}
	sameState(t, "Load", loadAll(t, j, 0), forgotten(f.s, 20))
}

// A record the fold refuses is never compacted away: compaction stops just
// before it and says why.
func TestCompactStopsAtUnfoldable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for i := range 30 {
		f.must("", "", imagePulled(imageID(i)))
	}
	recs := slices.Clone(f.recs)
	recs[19].Type = "image.teleported" // seq 20
	j := newMemJournal(recs)

	dropped, err := Compact(ctx, j, time.Minute, nowAfter(25, time.Minute))
	if !errors.Is(err, ErrUnfoldable) || !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("err %v, want ErrUnfoldable wrapping ErrUnknownType", err)
	}
	if dropped != 19 || j.first != 20 {
		t.Fatalf("dropped %d first %d, want 19 20", dropped, j.first)
	}
	if want := []string{"put 19", "compact 20"}; !slices.Equal(j.calls, want) {
		t.Fatalf("calls %v, want %v (no head snapshot past the bad record)", j.calls, want)
	}
	// Again: nothing more can go.
	j.calls = nil
	dropped, err = Compact(ctx, j, time.Minute, nowAfter(25, time.Minute))
	if !errors.Is(err, ErrUnfoldable) || dropped != 0 || len(j.calls) != 0 {
		t.Fatalf("second run: dropped %d err %v calls %v", dropped, err, j.calls)
	}
	// A strict load refuses the bad record; a lenient one steps over it.
	if _, err := Load(ctx, j, 0, nil); !errors.Is(err, ErrUnfoldable) {
		t.Fatalf("strict Load: %v", err)
	}
	var skipped []uint64
	s, err := Load(ctx, j, 0, func(r journal.Record, err error) { skipped = append(skipped, r.Seq) })
	if err != nil || !slices.Equal(skipped, []uint64{20}) {
		t.Fatalf("lenient Load: %v, skipped %v", err, skipped)
	}
	sameState(t, "lenient Load", s, forgotten(replay(recs), 20))

	// The bad record beyond the window: compaction up to the window
	// happens, the head snapshot does not.
	j2 := newMemJournal(recs)
	dropped, err = Compact(ctx, j2, time.Minute, nowAfter(10, time.Minute))
	if !errors.Is(err, ErrUnfoldable) || dropped != 10 {
		t.Fatalf("bad record after the window: dropped %d err %v", dropped, err)
	}
	if want := []string{"put 10", "compact 11"}; !slices.Equal(j2.calls, want) {
		t.Fatalf("calls %v, want %v", j2.calls, want)
	}
}

func TestCompactRefusesUnreadableSnapshot(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for i := range 20 {
		f.must("", "", imagePulled(imageID(i)))
	}
	j := newMemJournal(f.recs)
	j.snaps[5] = append(append([]byte(snapshotMagic), 9), make([]byte, 8)...)
	dropped, err := Compact(ctx, j, time.Minute, nowAfter(10, time.Minute))
	if !errors.Is(err, ErrSnapshotVersion) || dropped != 0 || len(j.calls) != 0 {
		t.Fatalf("dropped %d err %v calls %v", dropped, err, j.calls)
	}
	// A snapshot stored under another position than the state it holds.
	j.snaps[5] = mustMarshal(t, replay(f.recs[:4]))
	if _, err := Compact(ctx, j, time.Minute, nowAfter(10, time.Minute)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("misplaced snapshot: %v", err)
	}
}

func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	recs := cleanRecords(generate(3, 800))
	j := newMemJournal(recs)
	st := NewStore(nil, nil)
	if seq, err := st.Checkpoint(ctx, j); seq != 0 || err != nil || len(j.calls) != 0 {
		t.Fatalf("checkpoint of an empty store: %d %v %v", seq, err, j.calls)
	}
	st.ApplyRecords(recs[:500])
	seq, err := st.Checkpoint(ctx, j)
	if err != nil || seq != 500 {
		t.Fatalf("Checkpoint = %d, %v", seq, err)
	}
	var read int
	s, err := Load(ctx, countingReplayer{j, &read}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if read != len(recs)-500 {
		t.Fatalf("Load folded %d records after the checkpoint, want %d", read, len(recs)-500)
	}
	sameState(t, "Load after checkpoint", s, replay(recs))
}

// sameExceptTombstones checks the invariant a compaction before n relaxes:
// got equals want in everything but the tombstones and the horizon (n in
// got); of want's tombstones, got holds exactly those removed at n or
// later, each with its removal position, and none removed before n.
func sameExceptTombstones(t *testing.T, what string, got, want *State, n uint64) {
	t.Helper()
	g, w := dumpOf(got), dumpOf(want)
	if g.ForgetBefore != n {
		t.Fatalf("%s: horizon %d, want %d", what, g.ForgetBefore, n)
	}
	gotTombs, wantTombs := g.Removed, w.Removed
	g.Removed, w.Removed, g.ForgetBefore, w.ForgetBefore = nil, nil, 0, 0
	if d := cmp.Diff(g, w, protocmp.Transform(), cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("%s differs from the replay, tombstones aside (-got +want):\n%s", what, d)
	}
	kept := 0
	for id, at := range wantTombs {
		got, ok := gotTombs[id]
		switch {
		case at < n && ok:
			t.Fatalf("%s: tombstone %s (removed at %d) kept past a compaction before %d", what, id, at, n)
		case at >= n && (!ok || got != at):
			t.Fatalf("%s: tombstone %s (removed at %d) lost or moved (%d, %v)", what, id, at, got, ok)
		case ok:
			kept++
		}
	}
	if kept != len(gotTombs) {
		t.Fatalf("%s: %d tombstones, %d of them unknown to the replay", what, len(gotTombs), len(gotTombs)-kept)
	}
}
