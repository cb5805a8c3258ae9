package journal

import (
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// Check verifies the whole file in one read transaction: bbolt's own
// consistency check (page ownership, freelist, ordering), then the
// journal's invariants: the meta bucket agrees with the other buckets,
// sequence numbers are dense, every event and snapshot decodes with a
// matching checksum, and the state before the first retained event has its
// snapshot. It reads every page, so it is for tests and the operator's
// `logbook journal verify`, not for startup. On a writable journal it runs
// in a write transaction that it rolls back (bbolt's check reads the
// freelist, which a concurrent writer would change), so appends wait for it.
func (j *Journal) Check() error {
	var errs []error
	run := j.view
	if !j.opts.ReadOnly {
		run = func(fn func(*bbolt.Tx) error) error {
			err := j.update(func(tx *bbolt.Tx) error {
				if err := fn(tx); err != nil {
					return err
				}
				return errRollback
			})
			if err == errRollback {
				return nil
			}
			return err
		}
	}
	err := run(func(tx *bbolt.Tx) error {
		for err := range tx.Check() { // drained: the checker goroutine ends with it
			if len(errs) < 10 {
				errs = append(errs, fmt.Errorf("%w: bbolt: %v", ErrCorrupt, err))
			}
		}
		if len(errs) > 0 {
			return nil
		}
		l, err := readLayout(tx)
		if err != nil {
			return err
		}
		if err := checkLayout(l); err != nil {
			return err
		}
		// Density over the whole bucket, leftovers of an interrupted
		// Compact included.
		expect, n := l.evFirst, 0
		err = tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
			seq, ok := keySeq(k)
			if !ok {
				return fmt.Errorf("%w: event key of %d bytes", ErrCorrupt, len(k))
			}
			if seq != expect {
				return fmt.Errorf("%w: event %d follows %d", ErrCorrupt, seq, expect-1)
			}
			if _, err := decodeEnvelope(k, v, nil); err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
			expect++
			n++
			return nil
		})
		if err != nil {
			return err
		}
		if l.events && uint64(n) != l.evLast-l.evFirst+1 {
			return fmt.Errorf("%w: %d events between %d and %d", ErrCorrupt, n, l.evFirst, l.evLast)
		}
		return tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
			if _, err := decodeSnapshot(k, v); err != nil {
				seq, _ := keySeq(k)
				return fmt.Errorf("snapshot %d: %w", seq, err)
			}
			return nil
		})
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("journal %s: check: %w", j.path, errors.Join(errs...))
	}
	return nil
}
