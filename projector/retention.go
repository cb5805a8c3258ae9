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

// Bounded is optionally implemented by a Replayer that knows which records
// it retains (journal.Source does): Load then forgets the tombstones of
// objects removed by records it no longer has (see ForgetRemovedBefore).
type Bounded interface {
	Bounds(ctx context.Context) (first, last uint64, err error)
}

// Compactable is what the retention policy needs of a journal: *journal.Journal
// satisfies it.
type Compactable interface {
	Replayer
	Bounded
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
// starts this way, so one bad record does not keep a node down). When src
// is Bounded, the state forgets the tombstones of objects removed before
// the first retained record, as the live store does after a retention
// pass, whatever the snapshot it starts from remembers.
func Load(ctx context.Context, src Replayer, to uint64, onSkip func(journal.Record, error)) (*State, error) {
	s, err := loadSnapshot(ctx, src, to)
	if err != nil {
		return nil, err
	}
	if b, ok := src.(Bounded); ok {
		first, _, err := b.Bounds(ctx)
		if err != nil {
			return nil, fmt.Errorf("projector: load: %w", err)
		}
		if first > 1 { // (nothing is removed before 1)
			s.ForgetRemovedBefore(first)
		}
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
	// forward, less the tombstones whose removal records are about to go.
	// It replaces any snapshot stored at n-1 (a head snapshot of an
	// earlier pass holds tombstones older than n). Folding on to the head
	// yields the head snapshot too.
	s, err := loadSnapshot(ctx, j, n-1)
	if err != nil {
		return 0, fmt.Errorf("projector: compact: %w", err)
	}
	var atN []byte
	snapshotAtN := func() (err error) {
		s.ForgetRemovedBefore(n)
		atN, err = s.MarshalBinary()
		return err
	}
	if s.seq == n-1 {
		if err := snapshotAtN(); err != nil {
			return 0, err
		}
	}
	var unfoldable error
	err = j.Read(ctx, s.seq+1, last, func(r journal.Record) error {
		if err := s.fold(r); err != nil {
			unfoldable = err
			return errStop
		}
		if r.Seq == n-1 {
			return snapshotAtN()
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
		if err := snapshotAtN(); err != nil {
			return 0, err
		}
	}
	if err := j.PutSnapshot(ctx, n-1, atN); err != nil {
		return 0, fmt.Errorf("projector: compact: %w", err)
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

// ForgetRemovedBefore moves the state's tombstone horizon to seq (it only
// ever moves forward) and forgets the tombstones of the sandboxes and
// containers removed by a record before seq; it returns how many it
// forgot. The retention policy calls it with the first record it keeps: a
// tombstone lives as long as the record that made it (see doc.go). A state
// that is not yet at seq-1 keeps every tombstone until its fold gets
// there, then forgets (so that, at each position, it refuses exactly what
// the store refused there); a later call with a lower seq changes nothing.
func (s *State) ForgetRemovedBefore(seq uint64) int {
	s.forgetBefore = max(s.forgetBefore, seq)
	return s.forgetDue()
}

// forgetDue adopts the horizon of the store the state follows, if higher,
// and forgets the tombstones older than the horizon once the state has
// reached it. Apply and skip call it after every record: with nothing to
// forget it costs an atomic load and two comparisons.
func (s *State) forgetDue() int {
	if s.horizon != nil {
		s.forgetBefore = max(s.forgetBefore, s.horizon.Load())
	}
	if s.forgetBefore == 0 || s.seq+1 < s.forgetBefore {
		return 0
	}
	return s.removed.forget(s.forgetBefore)
}

// ForgetRemovedBefore forgets, in the live projection, the tombstones of
// objects removed before seq (see State.ForgetRemovedBefore), and returns
// how many it forgot. The daemon calls it after each retention pass with
// the journal's first retained record, so that the live store holds what
// a replay of the compacted journal holds and its memory stays bounded by
// the retention window. The states that follow the store (Snapshot
// clones, attached states) forget the same at their next fold. It runs
// under the write lock; when there is something to forget it rebuilds
// the tombstone set, O(tombstones), once per pass.
func (st *Store) ForgetRemovedBefore(seq uint64) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	if seq > st.horizon.Load() {
		st.horizon.Store(seq)
	}
	return st.state.ForgetRemovedBefore(seq)
}

// Attach makes s, a state its owner folds privately alongside the store
// (a subscriber's, rebuilt by Load), follow the store's tombstone horizon
// as the store's Snapshot clones do: from its next fold on it forgets what
// the store forgets. Call it before s is folded again, from the goroutine
// that owns s.
func (st *Store) Attach(s *State) {
	s.horizon = &st.horizon
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
