package journal

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"
)

// compactChunk bounds the events one compaction transaction deletes, so
// that dropping millions of events never holds one huge transaction (and
// appends interleave with it).
const compactChunk = 10000

// Compact drops the events with Seq < before and the snapshots older than
// the one at before-1, which must exist (ErrNoSnapshot otherwise): the
// state at the first retained event stays reconstructible. One transaction
// moves meta/first and deletes the old snapshots, so readers see the new
// bounds at once; the events themselves are then deleted in chunks. If that
// is interrupted (ctx, Close, a crash), the leftovers are invisible and the
// next Compact deletes them. dropped counts the events deleted by this
// call. before <= First only finishes such leftovers; before beyond Last+1
// is ErrOutOfRange. Metrics.Compacted hears of every run that got past the
// first transaction.
func (j *Journal) Compact(ctx context.Context, before uint64) (dropped int, err error) {
	if err := j.writable(ctx); err != nil {
		return 0, err
	}
	j.compactMu.Lock()
	defer j.compactMu.Unlock()
	first, err := j.compactBounds(before)
	if err != nil {
		return 0, err
	}
	defer func() {
		if j.opts.Metrics != nil {
			j.opts.Metrics.Compacted(dropped)
		}
		j.log.Debug("journal compacted", "first", first, "dropped", dropped, "err", err)
	}()
	return j.compactEvents(ctx, first)
}

// compactBounds is the first step of Compact: one transaction that checks
// the snapshot base, moves meta/first to before and drops the snapshots
// older than the base. It returns the first retained seq.
func (j *Journal) compactBounds(before uint64) (uint64, error) {
	var first uint64
	err := j.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var err error
		if first, err = parseU64("first", meta.Get(keyFirst)); err != nil {
			return err
		}
		last, err := parseU64("last", meta.Get(keyLast))
		if err != nil {
			return err
		}
		if before > last+1 {
			return fmt.Errorf("%w: compact before %d, last record is %d", ErrOutOfRange, before, last)
		}
		if before <= first {
			return nil
		}
		snaps := tx.Bucket(bucketSnapshots)
		if snaps.Get(seqKey(before-1)) == nil {
			return fmt.Errorf("%w: compact before %d needs a snapshot at %d", ErrNoSnapshot, before, before-1)
		}
		c := snaps.Cursor()
		var old [][]byte
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if seq, _ := keySeq(k); seq >= before-1 {
				break
			}
			old = append(old, append([]byte(nil), k...))
		}
		for _, k := range old {
			if err := snaps.Delete(k); err != nil {
				return err
			}
		}
		first = before
		return meta.Put(keyFirst, u64(first))
	})
	if err != nil {
		return 0, fmt.Errorf("journal %s: compact: %w", j.path, err)
	}
	j.mu.Lock()
	j.first = max(j.first, first)
	for s := range j.corrupt {
		if s < first {
			delete(j.corrupt, s)
		}
	}
	j.mu.Unlock()
	return first, nil
}

// compactEvents deletes the events before first, compactChunk per
// transaction, and returns how many it deleted.
func (j *Journal) compactEvents(ctx context.Context, first uint64) (dropped int, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return dropped, err
		}
		n := 0
		err := j.update(func(tx *bbolt.Tx) error {
			n = 0
			events := tx.Bucket(bucketEvents)
			k, _ := events.Cursor().First()
			lo, ok := keySeq(k)
			if !ok || lo >= first {
				return nil
			}
			hi := min(first, lo+compactChunk)
			for s := lo; s < hi; s++ {
				if err := events.Delete(seqKey(s)); err != nil {
					return err
				}
			}
			n = int(hi - lo)
			return nil
		})
		if err != nil {
			return dropped, fmt.Errorf("journal %s: compact: %w", j.path, err)
		}
		if n == 0 {
			return dropped, nil
		}
		dropped += n
	}
}
