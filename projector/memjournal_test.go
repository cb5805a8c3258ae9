package projector

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/logbook-cri/logbook/journal"
)

// The real journal must satisfy the interfaces the retention policy
// defines; checked here so that a drift of its signatures fails this
// package's tests, not the daemon's build.
var (
	_ Compactable    = (*journal.Journal)(nil)
	_ CursorReporter = (*journal.Journal)(nil)
	_ Compactable    = (*memJournal)(nil)
)

// memJournal is an in-memory journal with the documented semantics of
// package journal's Bounds, Read, Snapshot, PutSnapshot and Compact
// (journal/api.go and the journal's doc comments): dense records from
// first to last, ErrNoSnapshot, ErrCompacted, ErrOutOfRange, and Compact
// requiring a snapshot at before-1 and keeping the newest snapshot at or
// before it and every later one.
type memJournal struct {
	recs    []journal.Record // recs[i].Seq == first+i
	first   uint64
	last    uint64
	snaps   map[uint64][]byte
	cursors []uint64
	// calls records the write calls, for assertions.
	calls []string
}

func newMemJournal(recs []journal.Record) *memJournal {
	j := &memJournal{first: 1, snaps: map[uint64][]byte{}}
	for _, r := range recs {
		j.recs = append(j.recs, r)
		j.last = r.Seq
	}
	return j
}

func (j *memJournal) Bounds(ctx context.Context) (uint64, uint64, error) {
	return j.first, j.last, nil
}

func (j *memJournal) Read(ctx context.Context, from, to uint64, fn func(journal.Record) error) error {
	if from == 0 {
		from = j.first
	}
	if from < j.first {
		return fmt.Errorf("%w: %d < %d", journal.ErrCompacted, from, j.first)
	}
	if to == 0 || to > j.last {
		to = j.last
	}
	for seq := from; seq <= to; seq++ {
		if err := fn(j.recs[seq-j.first]); err != nil {
			return err
		}
	}
	return nil
}

func (j *memJournal) Snapshot(ctx context.Context, seq uint64) (uint64, []byte, error) {
	var best uint64
	found := false
	for at := range j.snaps {
		if (seq == 0 || at <= seq) && (!found || at > best) {
			best, found = at, true
		}
	}
	if !found {
		return 0, nil, fmt.Errorf("%w: none at or before %d", journal.ErrNoSnapshot, seq)
	}
	return best, j.snaps[best], nil
}

func (j *memJournal) PutSnapshot(ctx context.Context, seq uint64, data []byte) error {
	if seq < max(j.first-1, 1) || seq > j.last {
		return fmt.Errorf("%w: snapshot at %d outside %d..%d", journal.ErrOutOfRange, seq, max(j.first-1, 1), j.last)
	}
	j.snaps[seq] = slices.Clone(data)
	j.calls = append(j.calls, fmt.Sprintf("put %d", seq))
	return nil
}

func (j *memJournal) Compact(ctx context.Context, before uint64) (int, error) {
	j.calls = append(j.calls, fmt.Sprintf("compact %d", before))
	if before > j.last+1 {
		return 0, fmt.Errorf("%w: compact before %d beyond %d", journal.ErrOutOfRange, before, j.last+1)
	}
	if before <= j.first {
		return 0, nil
	}
	if _, ok := j.snaps[before-1]; !ok {
		return 0, fmt.Errorf("%w: compact before %d needs a snapshot at %d", journal.ErrNoSnapshot, before, before-1)
	}
	for _, at := range slices.Collect(maps.Keys(j.snaps)) {
		if at < before-1 {
			delete(j.snaps, at)
		}
	}
	dropped := int(before - j.first)
	j.recs = j.recs[dropped:]
	j.first = before
	return dropped, nil
}

func (j *memJournal) Stats() journal.Stats {
	return journal.Stats{First: j.first, Last: j.last, Cursors: slices.Clone(j.cursors)}
}
