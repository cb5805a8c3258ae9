package journal

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

var (
	modelSeed = flag.Uint64("journal.seed", 0, "seed of TestModel (0: a random one, printed)")
	modelOps  = flag.Int("journal.ops", 600, "operations TestModel runs")
)

// model is what the journal should hold, kept the simplest possible way.
type model struct {
	all         map[uint64]Record // every record ever appended, compacted or not
	first, last uint64
	snaps       map[uint64][]byte
}

// modelTail is an open cursor and the seq it must deliver next.
type modelTail struct {
	cur  Cursor
	next uint64
	dead bool // ended with ErrCompacted
}

// TestModel runs random operations against a journal and the model: single,
// multi-record and concurrent appends, reads of random ranges, tails opened
// anywhere and advanced at random (one stays stalled for long stretches),
// snapshots, compactions valid and invalid, and close/reopen with random
// ring sizes. After every operation the bounds must agree; every few, the
// whole content and Check. Reproduce a failure with -journal.seed.
func TestModel(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (reproduce: go test ./journal -run TestModel -journal.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	ctx := ctxT(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	ringSizes := []int{1, 4, 64, 0}
	j := openT(t, path, Options{RingSize: ringSizes[rng.IntN(len(ringSizes))]})
	m := &model{all: map[uint64]Record{}, first: 1, snaps: map[uint64][]byte{}}
	nextID := 0
	var tails []*modelTail
	defer func() {
		for _, tl := range tails {
			tl.cur.Close()
		}
	}()
	stalled := &modelTail{next: 1}
	var err error
	if stalled.cur, err = j.Tail(ctx, 1); err != nil {
		t.Fatal(err)
	}
	tails = append(tails, stalled)

	newRecs := func(n int) []Record {
		recs := make([]Record, n)
		for k := range recs {
			recs[k] = testRecord(nextID)
			if nextID%2 == 0 {
				recs[k].Time = int64(nextID) + 1 // kept; the others get the commit time
			}
			nextID++
		}
		return recs
	}
	record := func(first uint64, recs []Record) {
		for k, r := range recs {
			r.Seq = first + uint64(k)
			m.all[r.Seq] = r
		}
		m.last = max(m.last, first+uint64(len(recs))-1)
	}
	// advance reads n records from tl and checks them against the model.
	advance := func(tl *modelTail, n int) error {
		for n > 0 && !tl.dead {
			var got []Record
			var err error
			if rng.IntN(2) == 0 {
				var r Record
				r, err = tl.cur.Next(ctx)
				got = []Record{r}
			} else {
				got, err = tl.cur.(BatchCursor).NextBatch(ctx, n)
			}
			if errors.Is(err, ErrCompacted) && tl.next < m.first {
				tl.dead = true
				return nil
			}
			if err != nil {
				return fmt.Errorf("tail at %d: %w", tl.next, err)
			}
			for _, r := range got {
				want, ok := m.all[tl.next]
				if !ok || r.Seq != tl.next || sameRecord(r, want) != nil {
					return fmt.Errorf("tail delivered %d, want %d (%v)", r.Seq, tl.next, sameRecord(r, want))
				}
				tl.next++
				n--
			}
		}
		return nil
	}
	checkAll := func(op int) {
		t.Helper()
		got := readAll(t, j, 0, 0)
		if uint64(len(got)) != m.last-m.first+1 {
			t.Fatalf("op %d: %d records retained, model has %d..%d", op, len(got), m.first, m.last)
		}
		for _, r := range got {
			if want := m.all[r.Seq]; sameRecord(r, want) != nil {
				t.Fatalf("op %d: record %d differs from the model", op, r.Seq)
			}
		}
		if err := j.Check(); err != nil {
			t.Fatalf("op %d: %v", op, err)
		}
	}

	for op := range *modelOps {
		switch p := rng.IntN(100); {
		case p < 25: // append one or several records
			recs := newRecs(1 + rng.IntN(4)*rng.IntN(2))
			first, err := j.Append(ctx, recs...)
			if err != nil || first != m.last+1 {
				t.Fatalf("op %d: Append(%d) = %d, %v; want %d", op, len(recs), first, err, m.last+1)
			}
			record(first, recs)

		case p < 35: // concurrent appends while a tail follows them
			type res struct {
				recs  []Record
				first uint64
				err   error
			}
			res1 := make([]res, 2+rng.IntN(8))
			total := 0
			for i := range res1 {
				res1[i].recs = newRecs(1 + rng.IntN(3))
				total += len(res1[i].recs)
			}
			var follower *modelTail
			if len(tails) > 0 {
				follower = tails[rng.IntN(len(tails))]
			}
			target := m.last + uint64(total) // the follower reads up to here
			var wg sync.WaitGroup
			for i := range res1 {
				wg.Go(func() { res1[i].first, res1[i].err = j.Append(ctx, res1[i].recs...) })
			}
			var followed []Record
			var followErr error
			if follower != nil && !follower.dead && follower.next <= target {
				wg.Go(func() {
					for uint64(len(followed)) < target-follower.next+1 && followErr == nil {
						var batch []Record
						batch, followErr = follower.cur.(BatchCursor).NextBatch(ctx, 0)
						followed = append(followed, batch...)
					}
				})
			}
			wg.Wait()
			for _, r := range res1 {
				if r.err != nil {
					t.Fatalf("op %d: concurrent Append: %v", op, r.err)
				}
				record(r.first, r.recs)
			}
			if m.last != target {
				t.Fatalf("op %d: concurrent appends left last at %d, want %d", op, m.last, target)
			}
			for _, r := range followed {
				if want := m.all[follower.next]; r.Seq != follower.next || sameRecord(r, want) != nil {
					t.Fatalf("op %d: follower got %d, want %d", op, r.Seq, follower.next)
				}
				follower.next++
			}
			if errors.Is(followErr, ErrCompacted) && follower.next < m.first {
				follower.dead = true
			} else if followErr != nil {
				t.Fatalf("op %d: follower: %v", op, followErr)
			}

		case p < 45: // read a random range
			from := uint64(rng.IntN(int(m.last) + 3))
			to := uint64(rng.IntN(int(m.last) + 3))
			var got []Record
			err := j.Read(ctx, from, to, func(r Record) error { got = append(got, r); return nil })
			if from != 0 && from < m.first {
				if !errors.Is(err, ErrCompacted) {
					t.Fatalf("op %d: Read(%d, %d) below first %d: %v, want ErrCompacted", op, from, to, m.first, err)
				}
				break
			}
			if err != nil {
				t.Fatalf("op %d: Read(%d, %d): %v", op, from, to, err)
			}
			lo, hi := max(from, m.first), m.last
			if to != 0 {
				hi = min(to, m.last)
			}
			var want []uint64
			for s := lo; s <= hi; s++ {
				want = append(want, s)
			}
			var seqs []uint64
			for _, r := range got {
				if sameRecord(r, m.all[r.Seq]) != nil {
					t.Fatalf("op %d: Read returned a wrong record %d", op, r.Seq)
				}
				seqs = append(seqs, r.Seq)
			}
			if !slices.Equal(seqs, want) {
				t.Fatalf("op %d: Read(%d, %d) = %v, want %v", op, from, to, seqs, want)
			}

		case p < 52: // open a tail anywhere around the retained range
			from := uint64(rng.IntN(int(m.last) + 3))
			cur, err := j.Tail(ctx, from)
			if from != 0 && from < m.first {
				if !errors.Is(err, ErrCompacted) {
					t.Fatalf("op %d: Tail(%d) below first %d: %v", op, from, m.first, err)
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if from == 0 {
				from = m.last + 1
			}
			tails = append(tails, &modelTail{cur: cur, next: from})

		case p < 65: // advance a tail (rarely the stalled one)
			tl := tails[rng.IntN(len(tails))]
			if tl == stalled && rng.IntN(8) != 0 {
				break
			}
			if tl.dead || tl.next > m.last {
				break
			}
			if err := advance(tl, 1+rng.IntN(int(m.last-tl.next+1))); err != nil {
				t.Fatalf("op %d: %v", op, err)
			}

		case p < 73: // snapshot
			if m.last == 0 {
				if err := j.PutSnapshot(ctx, 1, nil); !errors.Is(err, ErrOutOfRange) {
					t.Fatalf("op %d: PutSnapshot on an empty journal: %v", op, err)
				}
				break
			}
			lo := max(m.first-1, 1)
			seq := lo + uint64(rng.IntN(int(m.last-lo+1)))
			data := []byte(fmt.Sprintf("state@%d#%d", seq, op))
			if err := j.PutSnapshot(ctx, seq, data); err != nil {
				t.Fatalf("op %d: PutSnapshot(%d): %v", op, seq, err)
			}
			m.snaps[seq] = data

		case p < 80: // read a snapshot
			seq := uint64(rng.IntN(int(m.last) + 2))
			at, data, err := j.Snapshot(ctx, seq)
			wantAt := uint64(0)
			for s := range m.snaps {
				if (seq == 0 || s <= seq) && s > wantAt {
					wantAt = s
				}
			}
			if wantAt == 0 {
				if !errors.Is(err, ErrNoSnapshot) {
					t.Fatalf("op %d: Snapshot(%d) = %d, %v; want ErrNoSnapshot", op, seq, at, err)
				}
				break
			}
			if err != nil || at != wantAt || string(data) != string(m.snaps[wantAt]) {
				t.Fatalf("op %d: Snapshot(%d) = %d %q %v; want %d %q", op, seq, at, data, err, wantAt, m.snaps[wantAt])
			}

		case p < 88: // compact, at a snapshot or (refused) anywhere
			before := uint64(rng.IntN(int(m.last) + 3))
			if len(m.snaps) > 0 && rng.IntN(3) != 0 {
				keys := slices.Sorted(func(yield func(uint64) bool) {
					for s := range m.snaps {
						if !yield(s) {
							return
						}
					}
				})
				before = keys[rng.IntN(len(keys))] + 1
			}
			dropped, err := j.Compact(ctx, before)
			switch {
			case before > m.last+1:
				if !errors.Is(err, ErrOutOfRange) {
					t.Fatalf("op %d: Compact(%d) beyond last %d: %v", op, before, m.last, err)
				}
			case before <= m.first:
				if err != nil || dropped != 0 {
					t.Fatalf("op %d: Compact(%d) at or below first %d = %d, %v", op, before, m.first, dropped, err)
				}
			case m.snaps[before-1] == nil:
				if !errors.Is(err, ErrNoSnapshot) {
					t.Fatalf("op %d: Compact(%d) without snapshot: %v", op, before, err)
				}
			default:
				if err != nil || dropped != int(before-m.first) {
					t.Fatalf("op %d: Compact(%d) = %d, %v; want %d", op, before, dropped, err, before-m.first)
				}
				m.first = before
				for s := range m.snaps {
					if s < before-1 {
						delete(m.snaps, s)
					}
				}
			}

		case p < 92: // close and reopen
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			for _, tl := range tails {
				if _, err := tl.cur.Next(ctx); !tl.dead && !errors.Is(err, ErrClosed) {
					t.Fatalf("op %d: tail after Close: %v, want ErrClosed", op, err)
				}
			}
			tails = tails[:0]
			j = openT(t, path, Options{RingSize: ringSizes[rng.IntN(len(ringSizes))]})
			stalled = &modelTail{next: m.first}
			if stalled.cur, err = j.Tail(ctx, m.first); err != nil {
				t.Fatal(err)
			}
			tails = append(tails, stalled)

		default:
			checkAll(op)
		}
		if first, last, err := j.Bounds(ctx); err != nil || first != m.first || last != m.last {
			t.Fatalf("op %d: Bounds = %d, %d, %v; model %d, %d", op, first, last, err, m.first, m.last)
		}
	}
	// The stalled tail (and every other) catches up with everything.
	for _, tl := range tails {
		if !tl.dead && tl.next <= m.last {
			if err := advance(tl, int(m.last-tl.next+1)); err != nil {
				t.Fatalf("final catch-up: %v", err)
			}
		}
	}
	checkAll(*modelOps)
	t.Logf("%d records appended, %d retained, %d snapshots", len(m.all), m.last-m.first+1, len(m.snaps))
}
