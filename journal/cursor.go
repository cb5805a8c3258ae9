package journal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// cursorBatch is how many records Next fetches at once into its buffer.
const cursorBatch = 256

// cursor is a tail: nothing but a position, a small buffer of records
// fetched and not yet delivered, and an entry in the journal's list for
// Stats. It has no goroutine. When its position is in the ring it copies
// from there; when it has fallen behind it reads the disk in short read
// transactions; when it is at the head it waits on the journal's notify
// channel, which the committer closes and replaces after every commit, so
// a writer never waits for any cursor.
//
// Next and NextBatch are for one goroutine; Close may be called from any.
type cursor struct {
	j   *Journal
	ctx context.Context // from Tail: the cursor ends with it

	next      uint64        // seq of the next record to fetch
	buf       []Record      // fetched, not yet delivered
	delivered atomic.Uint64 // seq of the next record the caller receives
	in        *interner
	err       error // terminal: every later call returns it

	closed    chan struct{}
	closeOnce sync.Once
	// stopAfter cancels the AfterFunc that drops the cursor from the
	// journal's list when its Tail context ends before Close.
	stopAfter func() bool
}

var _ BatchCursor = (*cursor)(nil)

// Tail returns a cursor that delivers every record with Seq >= from, in
// order, first those already written and then live appends as they commit;
// from == 0 means the records after the current last. A from before the
// first retained record is ErrCompacted. The cursor ends when ctx does,
// when it is closed, or with ErrClosed when the journal closes.
func (j *Journal) Tail(ctx context.Context, from uint64) (Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil, fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	if from == 0 {
		from = j.last + 1
	}
	if from < j.first {
		return nil, fmt.Errorf("journal %s: %w: tail from %d, first retained record is %d", j.path, ErrCompacted, from, j.first)
	}
	c := &cursor{j: j, ctx: ctx, next: from, in: newInterner(), closed: make(chan struct{})}
	c.delivered.Store(from)
	j.cursors[c] = struct{}{}
	c.stopAfter = context.AfterFunc(ctx, c.unregister)
	return c, nil
}

// Next returns the next record, blocking until there is one or ctx, the
// cursor's own context, the cursor or the journal ends.
func (c *cursor) Next(ctx context.Context) (Record, error) {
	if err := c.stopped(); err != nil {
		return Record{}, err
	}
	if len(c.buf) == 0 {
		recs, err := c.wait(ctx, cursorBatch)
		if err != nil {
			return Record{}, err
		}
		c.buf = recs
	}
	r := c.buf[0]
	c.buf[0] = Record{}
	c.buf = c.buf[1:]
	c.delivered.Store(r.Seq + 1)
	return r, nil
}

// NextBatch returns the next records, at least one and at most max (a
// default batch when max <= 0), blocking like Next until there is one. The
// slice is the caller's.
func (c *cursor) NextBatch(ctx context.Context, max int) ([]Record, error) {
	if max <= 0 {
		max = readChunk
	}
	if err := c.stopped(); err != nil {
		return nil, err
	}
	var recs []Record
	if len(c.buf) > 0 {
		n := min(max, len(c.buf))
		recs = append([]Record(nil), c.buf[:n]...)
		clear(c.buf[:n])
		c.buf = c.buf[n:]
	} else {
		var err error
		if recs, err = c.wait(ctx, max); err != nil {
			return nil, err
		}
	}
	c.delivered.Store(recs[len(recs)-1].Seq + 1)
	return recs, nil
}

// wait fetches up to max records at the cursor's position, waiting for a
// commit when there is none yet.
func (c *cursor) wait(ctx context.Context, max int) ([]Record, error) {
	for {
		if c.err != nil {
			return nil, c.err
		}
		if err := c.stopped(); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		recs, wake, err := c.j.poll(c.next, max, c.in)
		if len(recs) > 0 {
			// Records before damage are delivered; the error comes next.
			c.next = recs[len(recs)-1].Seq + 1
			if err != nil {
				c.fail(err)
			}
			return recs, nil
		}
		if err != nil {
			return nil, c.fail(err)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, c.fail(c.ctx.Err())
		case <-c.closed:
		case <-c.j.done:
			return nil, c.fail(fmt.Errorf("journal %s: %w", c.j.path, ErrClosed))
		}
	}
}

// stopped returns the error that ends the cursor before anything it has
// buffered: its Close, the journal's, or the end of its Tail context.
func (c *cursor) stopped() error {
	select {
	case <-c.closed:
		return fmt.Errorf("journal %s: %w: cursor closed", c.j.path, ErrClosed)
	case <-c.j.done:
		c.buf = nil
		return c.fail(fmt.Errorf("journal %s: %w", c.j.path, ErrClosed))
	default:
	}
	if err := c.ctx.Err(); err != nil {
		c.buf = nil
		return c.fail(err)
	}
	return nil
}

// fail ends the cursor with err: it leaves the journal's list of cursors
// and returns err from now on.
func (c *cursor) fail(err error) error {
	c.err = err
	c.unregister()
	return err
}

// position is the seq of the next record the caller will receive.
func (c *cursor) position() uint64 { return c.delivered.Load() }

// Close releases the cursor; a Next blocked in another goroutine returns
// ErrClosed.
func (c *cursor) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.stopAfter()
		c.unregister()
	})
	return nil
}

func (c *cursor) unregister() {
	c.j.mu.Lock()
	delete(c.j.cursors, c)
	c.j.mu.Unlock()
}

// poll returns up to max records from seq on or, when seq is beyond the
// last record, the channel the next commit closes. Both are decided under
// one lock, so a commit cannot slip between the check and the wait.
func (j *Journal) poll(seq uint64, max int, in *interner) ([]Record, <-chan struct{}, error) {
	j.mu.RLock()
	closed, last, wake := j.closed, j.last, j.notify
	j.mu.RUnlock()
	if closed {
		return nil, nil, fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	if seq > last {
		return nil, wake, nil
	}
	n := min(last-seq+1, uint64(max))
	recs, err := j.fetch(make([]Record, 0, n), seq, last, max, in)
	return recs, wake, err
}
