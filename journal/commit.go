package journal

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// maxBatchRecords bounds how many queued records one group commit takes
// (a single Append larger than this is still committed whole).
const maxBatchRecords = 8192

// The states of an append request: queued until the committer takes it or
// its appender gives up; exactly one of the two wins the swap.
const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

type appendReq struct {
	recs  []Record // the caller's records, copied; Seq and Time filled in by the committer
	state atomic.Int32
	done  chan appendResult // capacity 1: the committer never waits for the appender
}

type appendResult struct {
	first uint64
	err   error
}

// Append durably appends recs as one atomic unit: either all are committed,
// with the sequence numbers first, first+1, ..., or none is. It returns
// once the group commit that carried them is on disk and Options.OnCommit
// has seen them. A Record's Time is set to the commit time when zero; a
// non-zero Seq is an expectation, and Append fails with ErrOutOfOrder
// (appending nothing) unless the record gets exactly that Seq.
//
// ctx is honoured while the records wait in the queue; once the committer
// has taken them, Append waits for the outcome of that commit. Appending
// no record returns (0, nil).
func (j *Journal) Append(ctx context.Context, recs ...Record) (first uint64, err error) {
	if err := j.writable(ctx); err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	req := &appendReq{recs: make([]Record, len(recs)), done: make(chan appendResult, 1)}
	size := 0
	for i := range recs {
		if recs[i].Type == "" {
			return 0, fmt.Errorf("journal %s: %w: record %d of %d has no type", j.path, ErrInvalidRecord, i, len(recs))
		}
		// Refused here, a record bbolt cannot store fails only its own
		// appender instead of the whole group commit.
		if n := envelopeSize(&recs[i]); n > bbolt.MaxValueSize {
			return 0, fmt.Errorf("journal %s: %w: record %d of %d is %d bytes, more than %d", j.path, ErrInvalidRecord, i, len(recs), n, bbolt.MaxValueSize)
		}
		size += len(recs[i].Payload)
	}
	// Copy the payloads, so the ring and the cursors never see a buffer
	// the caller reuses, in one allocation for the whole request.
	arena := make([]byte, 0, size)
	for i, r := range recs {
		if len(r.Payload) > 0 {
			n := len(arena)
			arena = append(arena, r.Payload...)
			r.Payload = arena[n:len(arena):len(arena)]
		}
		req.recs[i] = r
	}

	j.queueMu.Lock()
	if j.queueClosed {
		j.queueMu.Unlock()
		return 0, fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	j.queue = append(j.queue, req)
	j.queueMu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}

	select {
	case res := <-req.done:
		return res.first, res.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return 0, ctx.Err()
		}
		// Already part of a commit: its outcome is the truth.
		res := <-req.done
		return res.first, res.err
	}
}

// commitLoop is the committer: the only goroutine that appends to the file.
// It runs from Open to Close; Close closes quit and waits for committed.
func (j *Journal) commitLoop() {
	defer close(j.committed)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case <-j.wake:
		case <-j.quit:
			// Commit what was queued before Close; nothing more can be.
			for {
				batch := j.take()
				if batch == nil {
					return
				}
				j.commit(batch)
			}
		}
		// want: how many appenders the recent commits showed active, the
		// high-water mark of their batches, decaying by one a commit. The
		// last batch alone would settle below the true number: an appender
		// that misses one batch's gathering is counted out of the next.
		want := 0
		for {
			j.gather(want, linger)
			batch := j.take()
			if batch == nil {
				break
			}
			j.commit(batch)
			want = max(len(batch), want-1)
		}
	}
}

// gatherLinger bounds how long the committer waits for released appenders
// to come back before it commits those already queued.
const gatherLinger = 200 * time.Microsecond

// gather waits, up to gatherLinger, until as many requests are queued as
// recent commits showed appenders active (want). Closed-loop appenders
// come back at once, and joining this batch beats waiting a whole commit
// for the next; this is PostgreSQL's commit_delay, applied only when
// recent batches showed that several appenders are active. A lone
// appender (want <= 1) or an idle journal never waits.
func (j *Journal) gather(want int, linger *time.Timer) {
	if want <= 1 {
		return
	}
	linger.Reset(gatherLinger)
	defer linger.Stop()
	for {
		j.queueMu.Lock()
		queued := len(j.queue)
		j.queueMu.Unlock()
		if queued >= want {
			return
		}
		select {
		case <-j.wake: // another request: count again
		case <-linger.C:
			return
		case <-j.quit:
			return
		}
	}
}

// take removes from the queue the requests of the next group commit: every
// queued request up to maxBatchRecords records (at least one request),
// skipping those whose appenders gave up. It returns nil when none is left.
func (j *Journal) take() []*appendReq {
	j.queueMu.Lock()
	defer j.queueMu.Unlock()
	var batch []*appendReq
	n, i := 0, 0
	for ; i < len(j.queue); i++ {
		req := j.queue[i]
		if n > 0 && n+len(req.recs) > maxBatchRecords {
			break
		}
		if !req.state.CompareAndSwap(reqQueued, reqTaken) {
			continue // abandoned: its appender already returned
		}
		batch = append(batch, req)
		n += len(req.recs)
	}
	rest := copy(j.queue, j.queue[i:])
	clear(j.queue[rest:])
	j.queue = j.queue[:rest]
	return batch
}

// commit writes one batch in one bbolt transaction, then publishes it to
// the ring, the cursors and OnCommit, and only then releases the appenders.
func (j *Journal) commit(batch []*appendReq) {
	start := time.Now()
	now := start.UnixNano()
	results := make([]appendResult, len(batch))
	var committed []Record
	err := j.update(func(tx *bbolt.Tx) error {
		committed = committed[:0]
		events := tx.Bucket(bucketEvents)
		events.FillPercent = 1.0 // keys only ever grow: pack pages full
		next := j.last + 1       // j.last is written only here, by this goroutine
		for i, req := range batch {
			results[i] = appendResult{}
			if err := checkExpected(req.recs, next); err != nil {
				results[i].err = fmt.Errorf("journal %s: %w", j.path, err)
				continue
			}
			results[i].first = next
			size := 0
			for k := range req.recs {
				r := &req.recs[k]
				r.Seq = next + uint64(k)
				if r.Time == 0 {
					r.Time = now
				}
				size += envelopeSize(r)
			}
			// bbolt keeps each value until the commit: they share one
			// arena per request, sized so that it never moves.
			arena := make([]byte, 0, size)
			for k := range req.recs {
				r := &req.recs[k]
				n := len(arena)
				arena = appendEnvelope(arena, r)
				if err := events.Put(seqKey(r.Seq), arena[n:len(arena):len(arena)]); err != nil {
					return err
				}
				committed = append(committed, *r)
			}
			next += uint64(len(req.recs))
		}
		if j.commitHook != nil {
			if err := j.commitHook(committed); err != nil {
				return err
			}
		}
		if len(committed) == 0 {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keyLast, u64(next-1))
	})
	took := time.Since(start)
	if err != nil {
		err = fmt.Errorf("journal %s: commit of %d records failed, none written: %w", j.path, len(committed), err)
		j.log.Error("journal commit failed", "records", len(committed), "err", err)
		for i, req := range batch {
			if results[i].err == nil {
				results[i] = appendResult{err: err}
			}
			req.done <- results[i]
		}
		return
	}
	if len(committed) > 0 {
		j.mu.Lock()
		j.last = committed[len(committed)-1].Seq
		j.ring.push(committed)
		close(j.notify)
		j.notify = make(chan struct{})
		j.mu.Unlock()
		if j.opts.OnCommit != nil {
			j.opts.OnCommit(committed)
		}
		if j.opts.Metrics != nil {
			j.opts.Metrics.Committed(len(committed), took)
		}
	}
	for i, req := range batch {
		req.done <- results[i]
	}
}

// checkExpected enforces the Seq expectations of one request whose first
// record would get next.
func checkExpected(recs []Record, next uint64) error {
	for k, r := range recs {
		if r.Seq != 0 && r.Seq != next+uint64(k) {
			return fmt.Errorf("%w: record %d of %d expects seq %d, would get %d", ErrOutOfOrder, k, len(recs), r.Seq, next+uint64(k))
		}
	}
	return nil
}
