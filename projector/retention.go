package projector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logbook-cri/logbook/journal"
)

// Replayer is what rebuilding a state needs of a journal: its snapshots and
// its records. journal.Source (the journal and its remote client)
// satisfies it.
type Replayer interface {
	// Snapshot returns the newest snapshot at or before seq (0: the
	// newest), or an error matching journal.ErrNoSnapshot when there is
	// none.
	Snapshot(ctx context.Context, seq uint64) (at uint64, data []byte, err error)
	// Read calls fn for each record with from <= Seq <= to in order; to == 0
	// means the last record.
	Read(ctx context.Context, from, to uint64, fn func(journal.Record) error) error
}

// Compactable is what the retention policy needs of a journal: *journal.Journal
// satisfies it.
type Compactable interface {
	Replayer
	Bounds(ctx context.Context) (first, last uint64, err error)
	// PutSnapshot stores a snapshot of the state at seq.
	PutSnapshot(ctx context.Context, seq uint64, data []byte) error
	// Compact deletes the records before before; a snapshot at before-1
	// must exist.
	Compact(ctx context.Context, before uint64) (dropped int, err error)
}

// CursorReporter is optionally implemented by a Compactable that knows its
// open tails (*journal.Journal does, through Stats): Compact then never
// drops a record a live subscriber has yet to read.
type CursorReporter interface {
	Stats() journal.Stats
}

var _ Replayer = journal.Source(nil)

// errStop ends a Read early; it never leaves the package.
var errStop = errors.New("stop")

// Load rebuilds the state at journal position to (0: the last record):
// the newest snapshot at or before it, then every record after the
// snapshot up to it. With a nil onSkip, a record that cannot be folded
// ends the load with an error matching ErrUnfoldable; otherwise onSkip is
// told and the record stepped over, as Store.ApplyRecords does (the daemon
// starts this way, so one bad record does not keep a node down).
func Load(ctx context.Context, src Replayer, to uint64, onSkip func(journal.Record, error)) (*State, error) {
	s, err := loadSnapshot(ctx, src, to)
	if err != nil {
		return nil, err
	}
	if to != 0 && s.seq >= to {
		return s, nil
	}
	err = s.foldRange(ctx, src, s.seq+1, to, onSkip)
	if err != nil {
		return nil, fmt.Errorf("projector: load: %w", err)
	}
	return s, nil
}

// fold decodes and applies one record; the error says which record.
func (s *State) fold(r journal.Record) error {
	e, err := Decode(r)
	if err == nil {
		err = s.Apply(e)
	}
	if err != nil {
		return fmt.Errorf("%w: record %d (%s): %w", ErrUnfoldable, r.Seq, r.Type, err)
	}
	return nil
}

// loadSnapshot returns the state of the newest snapshot at or before seq,
// or an empty state when the journal has none.
func loadSnapshot(ctx context.Context, src Replayer, seq uint64) (*State, error) {
	at, data, err := src.Snapshot(ctx, seq)
	if errors.Is(err, journal.ErrNoSnapshot) {
		return NewState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("projector: load snapshot: %w", err)
	}
	s, err := UnmarshalState(data)
	if err != nil {
		return nil, fmt.Errorf("projector: snapshot at %d: %w", at, err)
	}
	if s.seq != at {
		return nil, fmt.Errorf("projector: snapshot stored at %d: %w: it holds the state at %d", at, ErrBadSnapshot, s.seq)
	}
	return s, nil
}

// Compact applies the retention policy "snapshot plus tail" to a journal:
// records older than window (by their append time, against now) are
// dropped, and the state they folded into is kept as a snapshot. See
// doc.go for the policy in full. It returns the number of records dropped.
// When it meets a record it cannot fold it compacts up to that record, no
// further, and returns an error matching ErrUnfoldable (with dropped).
func Compact(ctx context.Context, j Compactable, window time.Duration, now time.Time) (dropped int, err error) {
	first, last, err := j.Bounds(ctx)
	if err != nil {
		return 0, fmt.Errorf("projector: compact: %w", err)
	}
	if first > last {
		return 0, nil // nothing retained
	}

	// n: the first record to keep. The first one younger than the window
	// (a clock stepping back makes later records look older; keeping from
	// the first young one on is the conservative reading), or last+1 when
	// every record is old.
	cutoff := now.Add(-window).UnixNano()
	n := last + 1
	err = j.Read(ctx, first, last, func(r journal.Record) error {
		if r.Time > cutoff {
			n = r.Seq
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, fmt.Errorf("projector: compact: %w", err)
	}
	// A live subscriber keeps every record it has yet to read.
	if cr, ok := j.(CursorReporter); ok {
		for _, c := range cr.Stats().Cursors {
			n = min(n, max(c, first))
		}
	}
	if n <= first {
		return 0, nil
	}

	// The state at n-1: the newest snapshot at or before it, folded
	// forward. Folding on to the head yields the head snapshot too.
	s, err := loadSnapshot(ctx, j, n-1)
	if err != nil {
		return 0, fmt.Errorf("projector: compact: %w", err)
	}
	var atN []byte // snapshot at n-1, when none is stored yet
	var unfoldable error
	err = j.Read(ctx, s.seq+1, last, func(r journal.Record) error {
		if err := s.fold(r); err != nil {
			unfoldable = err
			return errStop
		}
		if r.Seq == n-1 {
			b, err := s.MarshalBinary()
			atN = b
			return err
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, fmt.Errorf("projector: compact: %w", err)
	}
	if unfoldable != nil && s.seq < n-1 {
		// Keep the bad record: compact only up to it. s is the state
		// just before it.
		n = s.seq + 1
		if n <= first {
			return 0, fmt.Errorf("projector: compact: %w", unfoldable)
		}
		if atN, err = s.MarshalBinary(); err != nil {
			return 0, err
		}
	}
	if atN != nil {
		if err := j.PutSnapshot(ctx, n-1, atN); err != nil {
			return 0, fmt.Errorf("projector: compact: %w", err)
		}
	}
	if unfoldable == nil && s.seq > n-1 {
		head, err := s.MarshalBinary()
		if err != nil {
			return 0, err
		}
		if err := j.PutSnapshot(ctx, s.seq, head); err != nil {
			return 0, fmt.Errorf("projector: compact: %w", err)
		}
	}
	dropped, err = j.Compact(ctx, n)
	if err != nil {
		return dropped, fmt.Errorf("projector: compact: %w", err)
	}
	if unfoldable != nil {
		return dropped, fmt.Errorf("projector: compact stopped: %w", unfoldable)
	}
	return dropped, nil
}

// SnapshotWriter is what Checkpoint needs of a journal.
type SnapshotWriter interface {
	PutSnapshot(ctx context.Context, seq uint64, data []byte) error
}

// Checkpoint stores the store's current state as a journal snapshot at its
// position (on a clean shutdown, say), so that the next start loads it and
// replays only what follows. It returns that position (0, and nothing
// stored, for an empty journal). The state is cloned under the read lock
// and encoded outside it.
func (st *Store) Checkpoint(ctx context.Context, j SnapshotWriter) (uint64, error) {
	s := st.Snapshot()
	if s.Seq() == 0 {
		return 0, nil
	}
	b, err := s.MarshalBinary()
	if err != nil {
		return 0, err
	}
	if err := j.PutSnapshot(ctx, s.Seq(), b); err != nil {
		return 0, fmt.Errorf("projector: checkpoint at %d: %w", s.Seq(), err)
	}
	return s.Seq(), nil
}
