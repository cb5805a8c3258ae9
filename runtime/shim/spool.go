package shim

import (
	"sync"
	"time"
)

// Bounds of a spool: how many bytes may wait for its consumer, and how long
// the producer waits for a consumer that is behind before declaring it
// stalled.
const (
	DefaultSpoolLimit = 64 << 10
	stallTimeout      = time.Second
)

// spool is the bounded queue between an output pump (the producer) and the
// goroutine that writes the output somewhere (the consumer: the log file's
// writer, or an attached client's).
//
// Its policy is the shim's promise about output: a consumer that keeps up,
// even barely, loses nothing, because a full spool makes the producer wait,
// and so the container's pipe, and so the container (the ordinary
// backpressure of a pipe). A consumer that makes no progress for
// stallTimeout (a hung disk, a client that stopped reading) is marked
// stalled: from then on, until it takes again, output for it is dropped at
// once and the container runs on. The container waits at most stallTimeout
// per stall, never longer.
//
// One producer at a time (callers serialise put); one consumer.
type spool struct {
	limit int
	stall time.Duration // stallTimeout, but for tests

	mu      sync.Mutex // guards the fields below
	queue   []byte
	entries uint64
	spare   []byte // the consumer's last batch, reused as the next queue
	closed  bool
	stalled bool

	wake  chan struct{} // capacity 1: the queue has data, or the spool closed
	space chan struct{} // capacity 1: the consumer took a batch
	timer *time.Timer   // the producer's stall timer
}

func newSpool(limit int, stall time.Duration) *spool {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &spool{limit: limit, stall: stall, wake: make(chan struct{}, 1), space: make(chan struct{}, 1), timer: t}
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// put queues size bytes (at least what fill appends), which fill appends
// to the queue, counting n entries. It reports false when the bytes were dropped: the spool is
// closed, or its consumer is stalled (or just became so while put waited).
// A put bigger than the limit is accepted into an empty queue.
func (s *spool) put(size int, n uint64, fill func([]byte) []byte) bool {
	waiting := false
	defer func() {
		if waiting {
			s.timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		if s.closed || s.stalled {
			s.mu.Unlock()
			return false
		}
		if len(s.queue) == 0 || len(s.queue)+size <= s.limit {
			if s.queue == nil {
				// Sized once, so that appending never reallocates: a busy
				// spool then lives on two buffers (this one and the batch
				// being written) and makes no garbage.
				s.queue = make([]byte, 0, max(s.limit, size))
			}
			s.queue = fill(s.queue)
			s.entries += n
			s.mu.Unlock()
			notify(s.wake)
			return true
		}
		s.mu.Unlock()
		if !waiting {
			waiting = true
			s.timer.Reset(s.stall)
		}
		select {
		case <-s.space:
		case <-s.timer.C:
			waiting = false
			s.mu.Lock()
			s.stalled = true
			s.mu.Unlock()
			return false
		}
	}
}

// putFinal queues a last piece regardless of the limit and closes the
// spool: the consumer takes everything queued, then learns it is closed.
func (s *spool) putFinal(fill func([]byte) []byte) {
	s.mu.Lock()
	if !s.closed {
		s.queue = fill(s.queue)
		s.closed = true
	}
	s.mu.Unlock()
	notify(s.wake)
	notify(s.space)
}

// close closes the spool; what is queued can still be taken.
func (s *spool) close() { s.putFinal(func(b []byte) []byte { return b }) }

// take returns the queued bytes and their entry count, waiting for some;
// ok is false once the spool is closed and empty, or abort is closed.
// The consumer hands the batch back with recycle when it has written it.
func (s *spool) take(abort <-chan struct{}) (batch []byte, n uint64, ok bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			batch, n = s.queue, s.entries
			s.queue, s.entries, s.spare = s.spare[:0], 0, nil
			s.stalled = false
			s.mu.Unlock()
			notify(s.space)
			return batch, n, true
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil, 0, false
		}
		select {
		case <-s.wake:
		case <-abort:
			return nil, 0, false
		}
	}
}

// recycle gives a written batch back for reuse, so that a busy spool
// allocates nothing in its steady state.
func (s *spool) recycle(batch []byte) {
	if cap(batch) > 2*s.limit {
		return // one oversized put must not pin its buffer
	}
	s.mu.Lock()
	if s.spare == nil {
		s.spare = batch[:0]
	}
	s.mu.Unlock()
}

func (s *spool) isStalled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stalled
}
