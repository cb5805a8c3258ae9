package journal

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAppendReadReopen(t *testing.T) {
	ctx := ctxT(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openT(t, path, Options{})

	if first, last, err := j.Bounds(ctx); err != nil || first != 1 || last != 0 {
		t.Fatalf("empty Bounds = %d, %d, %v; want 1, 0, nil", first, last, err)
	}
	var want []Record
	for i := range 10 {
		r := testRecord(i)
		first, err := j.Append(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if first != uint64(i+1) {
			t.Fatalf("Append #%d got seq %d", i, first)
		}
		r.Seq = first
		want = append(want, r)
	}
	// A multi-record append gets consecutive seqs.
	multi := []Record{testRecord(10), testRecord(11), testRecord(12)}
	first, err := j.Append(ctx, multi...)
	if err != nil || first != 11 {
		t.Fatalf("Append(3) = %d, %v; want 11", first, err)
	}
	for i := range multi {
		multi[i].Seq = first + uint64(i)
	}
	want = append(want, multi...)

	check := func(j *Journal) {
		t.Helper()
		got := readAll(t, j, 0, 0)
		if len(got) != len(want) {
			t.Fatalf("read %d records, want %d", len(got), len(want))
		}
		for i := range got {
			if err := sameRecord(got[i], want[i]); err != nil {
				t.Fatal(err)
			}
			if got[i].Time == 0 {
				t.Fatalf("record %d: Time not set", got[i].Seq)
			}
		}
		if sub := readAll(t, j, 4, 6); len(sub) != 3 || sub[0].Seq != 4 || sub[2].Seq != 6 {
			t.Fatalf("Read(4,6) = %d records from %v", len(sub), sub)
		}
		if past := readAll(t, j, 12, 100); len(past) != 2 {
			t.Fatalf("Read(12,100) = %d records, want 2", len(past))
		}
		if none := readAll(t, j, 14, 0); len(none) != 0 {
			t.Fatalf("Read(14,0) = %d records, want 0", len(none))
		}
	}
	check(j)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(ctx, testRecord(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	if err := j.Read(ctx, 0, 0, func(Record) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}

	j2 := openT(t, path, Options{})
	check(j2)
	if first, last, _ := j2.Bounds(ctx); first != 1 || last != 13 {
		t.Fatalf("Bounds after reopen = %d, %d; want 1, 13", first, last)
	}
	// The ring is empty after a reopen: new records continue the sequence.
	if seq, err := j2.Append(ctx, testRecord(13)); err != nil || seq != 14 {
		t.Fatalf("Append after reopen = %d, %v; want 14", seq, err)
	}
}

func TestAppendValidation(t *testing.T) {
	ctx := ctxT(t)
	j := newT(t, Options{})
	if seq, err := j.Append(ctx); seq != 0 || err != nil {
		t.Fatalf("Append() = %d, %v; want 0, nil", seq, err)
	}
	if _, err := j.Append(ctx, testRecord(0), Record{}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("Append without type: %v, want ErrInvalidRecord", err)
	}
	// A Seq expectation that holds, then one that does not (atomically: the
	// first record of the failing request is not written either).
	good := testRecord(1)
	good.Seq = 1
	if seq, err := j.Append(ctx, good); err != nil || seq != 1 {
		t.Fatalf("Append(seq 1) = %d, %v", seq, err)
	}
	a, b := testRecord(2), testRecord(3)
	a.Seq, b.Seq = 2, 4
	if _, err := j.Append(ctx, a, b); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("Append(seq 2, 4): %v, want ErrOutOfOrder", err)
	}
	if _, last, _ := j.Bounds(ctx); last != 1 {
		t.Fatalf("last = %d after a refused append, want 1", last)
	}
	// The caller's payload buffer is copied: reusing it changes nothing.
	buf := []byte("original")
	if _, err := j.Append(ctx, Record{Type: "t", Payload: buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "CHANGED!")
	cur, err := j.Tail(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	r, err := cur.Next(ctx)
	if err != nil || string(r.Payload) != "original" {
		t.Fatalf("tail read %q, %v; want original", r.Payload, err)
	}
	if got := readAll(t, j, 2, 2); string(got[0].Payload) != "original" {
		t.Fatalf("disk read %q; want original", got[0].Payload)
	}
}

type fakeMetrics struct {
	mu        sync.Mutex
	commits   int
	committed int
	took      time.Duration
	dropped   int
}

func (m *fakeMetrics) Committed(n int, took time.Duration) {
	m.mu.Lock()
	m.commits++
	m.committed += n
	m.took += took
	m.mu.Unlock()
}

func (m *fakeMetrics) Compacted(n int) {
	m.mu.Lock()
	m.dropped += n
	m.mu.Unlock()
}

func TestGroupCommitConcurrent(t *testing.T) {
	ctx := ctxT(t)
	var (
		mu   sync.Mutex
		seen []uint64
	)
	metrics := &fakeMetrics{}
	var j *Journal
	j = newT(t, Options{
		Metrics: metrics,
		OnCommit: func(recs []Record) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range recs {
				seen = append(seen, r.Seq)
			}
		},
	})
	const appenders, each = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	for a := range appenders {
		wg.Go(func() {
			for i := range each {
				n := 1 + (a+i)%3 // single and multi-record appends
				recs := make([]Record, n)
				for k := range recs {
					recs[k] = testRecord(a*1000 + i*10 + k)
				}
				first, err := j.Append(ctx, recs...)
				if err != nil {
					errs <- err
					return
				}
				// OnCommit has seen the records before Append returned.
				mu.Lock()
				ok := len(seen) >= int(first)+n-1 && seen[first+uint64(n)-2] == first+uint64(n)-1
				mu.Unlock()
				if !ok {
					errs <- errors.New("Append returned before OnCommit saw its records")
					return
				}
				got := readAll(t, j, first, first+uint64(n)-1)
				for k := range got {
					if err := sameRecord(got[k], recs[k]); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	_, last, _ := j.Bounds(ctx)
	if len(seen) != int(last) {
		t.Fatalf("OnCommit saw %d records, journal has %d", len(seen), last)
	}
	for i, s := range seen {
		if s != uint64(i+1) {
			t.Fatalf("OnCommit order broken at %d: seq %d", i, s)
		}
	}
	metrics.mu.Lock()
	defer metrics.mu.Unlock()
	if metrics.committed != int(last) || metrics.commits == 0 || metrics.commits > int(last) {
		t.Fatalf("metrics: %d commits of %d records, journal has %d", metrics.commits, metrics.committed, last)
	}
	t.Logf("%d records in %d group commits", last, metrics.commits)
}

func TestAppendCancelledWhileQueued(t *testing.T) {
	ctx := ctxT(t)
	j := newT(t, Options{})
	releaseCh := make(chan struct{})
	release := sync.OnceFunc(func() { close(releaseCh) })
	t.Cleanup(release) // before openT's Close, even when the test fails
	entered := make(chan struct{}, 1)
	j.commitHook = func([]Record) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-releaseCh
		return nil
	}
	// The first append holds the committer inside its transaction.
	firstDone := make(chan error, 1)
	go func() {
		_, err := j.Append(ctx, testRecord(0))
		firstDone <- err
	}()
	<-entered
	cctx, cancel := context.WithCancel(ctx)
	queued := make(chan error, 1)
	go func() {
		_, err := j.Append(cctx, testRecord(1))
		queued <- err
	}()
	eventually(t, "the second append to queue", func() bool {
		j.queueMu.Lock()
		defer j.queueMu.Unlock()
		return len(j.queue) == 1
	})
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled append: %v, want context.Canceled", err)
	}
	release()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	// The abandoned record was never written: the next append gets 2.
	if seq, err := j.Append(ctx, testRecord(2)); err != nil || seq != 2 {
		t.Fatalf("Append = %d, %v; want 2", seq, err)
	}
	got := readAll(t, j, 0, 0)
	if len(got) != 2 || sameRecord(got[1], testRecord(2)) != nil {
		t.Fatalf("journal holds %d records; the cancelled one must be absent", len(got))
	}
}

func TestFailedCommitFailsItsBatchOnly(t *testing.T) {
	ctx := ctxT(t)
	j := newT(t, Options{})
	var (
		mu    sync.Mutex
		calls int
	)
	injected := errors.New("injected disk failure")
	j.commitHook = func([]Record) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls%3 == 2 { // every third commit fails
			return injected
		}
		return nil
	}
	type outcome struct {
		rec   Record
		first uint64
		err   error
	}
	const n = 200
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := testRecord(i)
			first, err := j.Append(ctx, r)
			out[i] = outcome{r, first, err}
		})
	}
	wg.Wait()
	failed := 0
	bySeq := map[uint64]Record{}
	for _, o := range out {
		if o.err != nil {
			if !errors.Is(o.err, injected) || !strings.Contains(o.err.Error(), j.Path()) {
				t.Fatalf("failed append: %v; want the injected error naming the file", o.err)
			}
			failed++
			continue
		}
		bySeq[o.first] = o.rec
	}
	if failed == 0 {
		t.Fatal("no commit failed; the hook did not run")
	}
	got := readAll(t, j, 0, 0)
	if len(got) != n-failed {
		t.Fatalf("journal holds %d records, %d appends succeeded", len(got), n-failed)
	}
	for _, r := range got {
		if err := sameRecord(r, bySeq[r.Seq]); err != nil {
			t.Fatalf("acknowledged record: %v", err)
		}
	}
	if err := j.Check(); err != nil {
		t.Fatal(err)
	}
	j.commitHook = nil
	if _, err := j.Append(ctx, testRecord(0)); err != nil {
		t.Fatalf("journal unusable after a failed commit: %v", err)
	}
}

func TestCloseCommitsQueuedAndEndsCursors(t *testing.T) {
	ctx := ctxT(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openT(t, path, Options{})
	cur, err := j.Tail(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	nextErr := make(chan error, 1)
	go func() {
		_, err := cur.Next(ctx)
		for err == nil {
			_, err = cur.Next(ctx)
		}
		nextErr <- err
	}()
	releaseCh := make(chan struct{})
	release := sync.OnceFunc(func() { close(releaseCh) })
	t.Cleanup(release) // before openT's Close, even when the test fails
	entered := make(chan struct{}, 1)
	j.commitHook = func([]Record) error {
		select {
		case entered <- struct{}{}:
			<-releaseCh
		default:
		}
		return nil
	}
	results := make(chan error, 5)
	appendOne := func(i int) {
		_, err := j.Append(ctx, testRecord(i))
		results <- err
	}
	// The first append holds the committer inside its transaction; the
	// other four queue behind it.
	go appendOne(0)
	<-entered
	for i := 1; i < 5; i++ {
		go appendOne(i)
	}
	eventually(t, "appends to queue behind the blocked commit", func() bool {
		j.queueMu.Lock()
		defer j.queueMu.Unlock()
		return len(j.queue) == 4
	})
	closed := make(chan error, 1)
	go func() { closed <- j.Close() }()
	eventually(t, "Close to shut the queue", func() bool {
		j.queueMu.Lock()
		defer j.queueMu.Unlock()
		return j.queueClosed
	})
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// Everything queued before Close is committed.
	for range 5 {
		if err := <-results; err != nil {
			t.Fatalf("append queued before Close: %v", err)
		}
	}
	if _, err := j.Append(ctx, testRecord(5)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: %v, want ErrClosed", err)
	}
	committed := 5
	if err := <-nextErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("cursor after Close: %v, want ErrClosed", err)
	}
	j2 := openT(t, path, Options{ReadOnly: true})
	if got := readAll(t, j2, 0, 0); len(got) != committed {
		t.Fatalf("%d records on disk, %d appends acknowledged", len(got), committed)
	}
}

func TestSnapshotsAndCompact(t *testing.T) {
	ctx := ctxT(t)
	metrics := &fakeMetrics{}
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openT(t, path, Options{Metrics: metrics, RingSize: 16})
	if _, _, err := j.Snapshot(ctx, 0); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Snapshot on empty journal: %v, want ErrNoSnapshot", err)
	}
	if err := j.PutSnapshot(ctx, 1, []byte("x")); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("PutSnapshot beyond last: %v, want ErrOutOfRange", err)
	}
	const n = 2*compactChunk + 500 // several compaction chunks
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Type: "t", Payload: testPayload(i, 16)}
	}
	if _, err := j.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	for _, s := range []uint64{10, 100, compactChunk + 7, n} {
		if err := j.PutSnapshot(ctx, s, []byte{byte(s), 's'}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		seq, at uint64
		err     error
	}{
		{0, n, nil}, {9, 0, ErrNoSnapshot}, {10, 10, nil}, {99, 10, nil}, {100, 100, nil},
		{compactChunk + 6, 100, nil}, {n - 1, compactChunk + 7, nil}, {n + 5, n, nil},
	} {
		at, data, err := j.Snapshot(ctx, tc.seq)
		if !errors.Is(err, tc.err) || at != tc.at || (err == nil && (data[0] != byte(tc.at) || data[1] != 's')) {
			t.Errorf("Snapshot(%d) = %d, %q, %v; want %d, %v", tc.seq, at, data, err, tc.at, tc.err)
		}
	}
	if _, err := j.Compact(ctx, 50); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Compact(50) without snapshot 49: %v, want ErrNoSnapshot", err)
	}
	if _, err := j.Compact(ctx, n+2); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("Compact beyond last+1: %v, want ErrOutOfRange", err)
	}
	cur, err := j.Tail(ctx, 1) // a cursor left behind by the compaction
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()

	before := uint64(compactChunk + 8)
	dropped, err := j.Compact(ctx, before)
	if err != nil || dropped != int(before-1) {
		t.Fatalf("Compact(%d) = %d, %v; want %d dropped", before, dropped, err, before-1)
	}
	if first, last, _ := j.Bounds(ctx); first != before || last != n {
		t.Fatalf("Bounds = %d, %d; want %d, %d", first, last, before, n)
	}
	if err := j.Read(ctx, before-1, 0, func(Record) error { return nil }); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Read below first: %v, want ErrCompacted", err)
	}
	if _, err := j.Tail(ctx, 5); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Tail below first: %v, want ErrCompacted", err)
	}
	if _, err := cur.Next(ctx); !errors.Is(err, ErrCompacted) {
		t.Fatalf("cursor overtaken by Compact: %v, want ErrCompacted", err)
	}
	if got := readAll(t, j, 0, 0); len(got) != n-int(before)+1 || got[0].Seq != before {
		t.Fatalf("after Compact read %d records from %d", len(got), got[0].Seq)
	}
	// Snapshots older than the base are gone; the base and newer remain.
	if s := j.Stats(); !slices.Equal(s.SnapshotSeqs, []uint64{before - 1, n}) || s.First != before || s.SizeBytes == 0 {
		t.Fatalf("Stats = %+v", s)
	}
	if err := j.PutSnapshot(ctx, before-2, nil); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("PutSnapshot before the base: %v, want ErrOutOfRange", err)
	}
	// Compacting everything leaves an empty journal that continues.
	if dropped, err := j.Compact(ctx, n+1); err != nil || dropped != n-int(before)+1 {
		t.Fatalf("Compact(all) = %d, %v", dropped, err)
	}
	if seq, err := j.Append(ctx, testRecord(0)); err != nil || seq != n+1 {
		t.Fatalf("Append after full compaction = %d, %v; want %d", seq, err, n+1)
	}
	metrics.mu.Lock()
	if metrics.dropped != n {
		t.Errorf("metrics saw %d dropped, want %d", metrics.dropped, n)
	}
	metrics.mu.Unlock()
	j.Close()
	j2 := openT(t, path, Options{})
	if first, last, _ := j2.Bounds(ctx); first != n+1 || last != n+1 {
		t.Fatalf("Bounds after reopen = %d, %d; want %d, %d", first, last, n+1, n+1)
	}
	if at, _, err := j2.Snapshot(ctx, 0); err != nil || at != n {
		t.Fatalf("newest snapshot after reopen = %d, %v; want %d", at, err, n)
	}
}

func TestCompactInterruptedLeavesInvisibleLeftovers(t *testing.T) {
	ctx := ctxT(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openT(t, path, Options{})
	recs := make([]Record, 300)
	for i := range recs {
		recs[i] = testRecord(i)
	}
	if _, err := j.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := j.PutSnapshot(ctx, 199, []byte("base")); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := j.Compact(cctx, 200); !errors.Is(err, context.Canceled) {
		t.Fatalf("Compact with a cancelled ctx: %v, want context.Canceled", err)
	}
	if first, _, _ := j.Bounds(ctx); first != 1 {
		t.Fatalf("a refused Compact moved first to %d", first)
	}
	// Interrupt a compaction precisely where a crash or Close could: after
	// the transaction that moves the bounds, before any event is deleted.
	if _, err := j.compactBounds(200); err != nil {
		t.Fatal(err)
	}
	if err := j.Check(); err != nil {
		t.Fatalf("Check with leftovers: %v", err)
	}
	if got := readAll(t, j, 0, 0); len(got) != 101 || got[0].Seq != 200 {
		t.Fatalf("leftovers visible: read %d records from %d", len(got), got[0].Seq)
	}
	j.Close()
	j = openT(t, path, Options{})
	if first, _, _ := j.Bounds(ctx); first != 200 {
		t.Fatalf("first after reopen = %d, want 200", first)
	}
	if dropped, err := j.Compact(ctx, 0); err != nil || dropped != 199 {
		t.Fatalf("Compact(0) finishing leftovers = %d, %v; want 199", dropped, err)
	}
}

func TestReadOnlyAndLocked(t *testing.T) {
	ctx := ctxT(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	if _, err := Open(path, Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only Open of a missing file succeeded")
	}
	j := openT(t, path, Options{})
	if _, err := j.Append(ctx, testRecord(0)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{ReadOnly: true, LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("Open of a locked file: %v; want ErrLocked naming the path and the other process", err)
	}
	j.Close()

	ro := openT(t, path, Options{ReadOnly: true})
	if got := readAll(t, ro, 0, 0); len(got) != 1 {
		t.Fatalf("read-only read %d records, want 1", len(got))
	}
	for name, err := range map[string]error{
		"Append":      func() error { _, err := ro.Append(ctx, testRecord(1)); return err }(),
		"PutSnapshot": ro.PutSnapshot(ctx, 1, nil),
		"Compact":     func() error { _, err := ro.Compact(ctx, 1); return err }(),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only journal: %v, want ErrReadOnly", name, err)
		}
	}
	// Two read-only opens share the lock.
	ro2 := openT(t, path, Options{ReadOnly: true, LockTimeout: 50 * time.Millisecond})
	if err := ro2.Check(); err != nil {
		t.Fatal(err)
	}
}
