package journal

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

func TestTailReplaysThenFollows(t *testing.T) {
	ctx := ctxT(t)
	j := newT(t, Options{RingSize: 8})
	for i := range 50 {
		if _, err := j.Append(ctx, testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	from1, err := j.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer from1.Close()
	head, err := j.Tail(ctx, 0) // only what comes after now
	if err != nil {
		t.Fatal(err)
	}
	defer head.Close()
	future, err := j.Tail(ctx, 60) // beyond the end: waits for it
	if err != nil {
		t.Fatal(err)
	}
	defer future.Close()

	// 1..50: the disk (behind the ring of 8), then the ring.
	for i := range 50 {
		r, err := from1.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameRecord(r, testRecord(i)); err != nil || r.Seq != uint64(i+1) {
			t.Fatalf("replay: %v (seq %d, want %d)", err, r.Seq, i+1)
		}
	}
	// Live: each append reaches the waiting cursors.
	go func() {
		for i := 50; i < 70; i++ {
			if _, err := j.Append(ctx, testRecord(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 50; i < 70; i++ {
		for _, c := range []Cursor{from1, head} {
			r, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameRecord(r, testRecord(i)); err != nil || r.Seq != uint64(i+1) {
				t.Fatalf("live: %v (seq %d, want %d)", err, r.Seq, i+1)
			}
		}
	}
	r, err := future.Next(ctx)
	if err != nil || r.Seq != 60 {
		t.Fatalf("tail from 60: first record %d, %v", r.Seq, err)
	}
}

func TestNextBatch(t *testing.T) {
	ctx := ctxT(t)
	j := newT(t, Options{RingSize: 4})
	recs := make([]Record, 30)
	for i := range recs {
		recs[i] = testRecord(i)
	}
	if _, err := j.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	cur, err := j.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	bc := cur.(BatchCursor)
	var got []uint64
	if r, err := bc.Next(ctx); err != nil || r.Seq != 1 { // fills Next's buffer
		t.Fatalf("Next = %d, %v", r.Seq, err)
	}
	got = append(got, 1)
	for len(got) < 30 {
		batch, err := bc.NextBatch(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 || len(batch) > 7 {
			t.Fatalf("NextBatch(7) returned %d records", len(batch))
		}
		for _, r := range batch {
			got = append(got, r.Seq)
		}
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("records out of order: %v", got)
		}
	}
	if st := j.Stats(); !slices.Equal(st.Cursors, []uint64{31}) {
		t.Fatalf("Stats.Cursors = %v, want [31]", st.Cursors)
	}
}

// A cursor nobody reads costs the appenders nothing: they all complete
// while it sits at its position, the other cursors keep up, and when it
// resumes it receives every record in order, from disk.
func TestStalledCursorDoesNotSlowAppenders(t *testing.T) {
	ctx := ctxT(t)
	j := newT(t, Options{RingSize: 16})
	stalled, err := j.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	active, err := j.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer active.Close()

	const appenders, each = 8, 100
	total := appenders * each
	activeGot := make(chan []uint64, 1)
	go func() {
		var seqs []uint64
		for len(seqs) < total {
			r, err := active.Next(ctx)
			if err != nil {
				t.Error(err)
				break
			}
			seqs = append(seqs, r.Seq)
		}
		activeGot <- seqs
	}()
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for i := range each {
				if _, err := j.Append(ctx, testRecord(a*each+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait() // would hang until ctx's deadline if appenders waited for the stalled cursor
	if t.Failed() {
		t.FailNow()
	}
	for i, s := range <-activeGot {
		if s != uint64(i+1) {
			t.Fatalf("active cursor: record %d has seq %d", i, s)
		}
	}
	st := j.Stats()
	if st.Last != uint64(total) || !slices.Contains(st.Cursors, 1) {
		t.Fatalf("Stats = %+v; want last %d and the stalled cursor at 1", st, total)
	}

	want := readAll(t, j, 0, 0)
	for i := range total {
		r, err := stalled.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i+1) || sameRecord(r, want[i]) != nil {
			t.Fatalf("resumed cursor: got %d, want %d", r.Seq, i+1)
		}
	}
}

func TestCursorEnds(t *testing.T) {
	ctx := ctxT(t)
	j := newT(t, Options{})

	// Close from another goroutine unblocks Next.
	cur, err := j.Tail(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() { _, err := cur.Next(ctx); res <- err }()
	if n := len(j.Stats().Cursors); n != 1 {
		t.Fatalf("%d cursors listed, want 1", n)
	}
	cur.Close()
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after cursor Close: %v, want ErrClosed", err)
	}
	if n := len(j.Stats().Cursors); n != 0 {
		t.Fatalf("%d cursors listed after Close", n)
	}

	// A cancelled Next leaves the cursor usable.
	cur, err = j.Tail(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	nctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := cur.Next(nctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next(cancelled) = %v", err)
	}
	if _, err := j.Append(ctx, testRecord(0)); err != nil {
		t.Fatal(err)
	}
	if r, err := cur.Next(ctx); err != nil || r.Seq != 1 {
		t.Fatalf("Next after a cancelled Next = %d, %v", r.Seq, err)
	}

	// The Tail context ends the cursor for good.
	tctx, tcancel := context.WithCancel(ctx)
	bound, err := j.Tail(tctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	go func() { _, err := bound.Next(ctx); res <- err }()
	tcancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after the Tail context ended: %v", err)
	}
	// A cursor whose context ends leaves Stats even if nobody calls it.
	ictx, icancel := context.WithCancel(ctx)
	idle, err := j.Tail(ictx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if n := len(j.Stats().Cursors); n != 2 { // cur and idle
		t.Fatalf("%d cursors listed, want 2", n)
	}
	icancel()
	eventually(t, "the idle cursor to leave Stats", func() bool { return len(j.Stats().Cursors) == 1 })
	if _, err := j.Append(ctx, testRecord(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := bound.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cursor revived after its context ended: %v", err)
	}
	if _, err := j.Tail(tctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Tail with a done context: %v", err)
	}
}
