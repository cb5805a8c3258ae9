package streaming

import "sync"

// ResponseLimit is the largest ExecSync response a kubelet accepts: its CRI
// client's gRPC receive limit (16 MiB).
const ResponseLimit = 16 << 20

// framingMargin is what the budget leaves of ResponseLimit for everything
// that is not output: the response's two length-delimited fields and its
// exit code take at most 21 bytes; the rest is headroom should the message
// ever grow a field.
const framingMargin = 64 << 10

// OutputBudget is the bytes of stdout and stderr together that one ExecSync
// response carries at most. Each stream is guaranteed half of it; a stream
// that needs less leaves the rest to the other.
const OutputBudget = ResponseLimit - framingMargin

// chunkSize is the unit in which kept output is stored: memory grows with
// what is kept, never with what is written, and shrinks a chunk at a time
// when a stream gives bytes back.
const chunkSize = 64 << 10

// Stream names, as logged and counted.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// budget is the output of one ExecSync: two streams sharing limit bytes.
// Its rule is max-min fairness over prefixes, decided as bytes arrive and
// never buffering more than limit bytes in all:
//
//   - While the two streams together hold less than limit, every byte is
//     kept.
//   - When they hold limit, a stream below its share (limit/2, rounded
//     down for stdout and up for stderr) takes bytes back from the end of
//     the other, if that one is above its share, down to the other's share.
//   - A stream that had to drop a byte keeps nothing it is written later
//     (it is cut), so what it holds is always a prefix of its output.
//
// Whatever the interleaving, each stream ends with min(written, fair)
// bytes, where fair is its share, or more if the other wrote less than its
// own (fairShares). Writes never block and never fail: the process writing
// is never slowed by the cap.
type budget struct {
	mu      sync.Mutex
	limit   int
	streams [2]capped // guarded by mu
}

// capped is one stream's side of a budget.
type capped struct {
	chunks  [][]byte // kept bytes, each chunk at most chunkSize
	kept    int      // bytes in chunks
	written int64    // bytes the process wrote
	cut     bool     // a byte was dropped: nothing more is kept
}

func newBudget(limit int) *budget {
	return &budget{limit: limit}
}

// share is the part of the budget stream i is guaranteed.
func share(limit, i int) int {
	if i == 0 {
		return limit / 2
	}
	return limit - limit/2
}

// writer returns the io.Writer of stream i (0 stdout, 1 stderr).
func (b *budget) writer(i int) *budgetWriter { return &budgetWriter{b: b, i: i} }

// budgetWriter is one stream's io.Writer onto its budget.
type budgetWriter struct {
	b *budget
	i int
}

// Write keeps what the budget allows of p and drops the rest; it always
// reports all of p written.
func (w *budgetWriter) Write(p []byte) (int, error) {
	w.b.write(w.i, p)
	return len(p), nil
}

func (b *budget) write(i int, p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	self, other := &b.streams[i], &b.streams[1-i]
	self.written += int64(len(p))
	if self.cut || len(p) == 0 {
		return
	}
	take := b.limit - self.kept - other.kept
	if take > len(p) {
		take = len(p)
	}
	if need := len(p) - take; need > 0 {
		// Claim back from the other stream what it holds above its share,
		// as far as this one is below its own.
		claim := min(need, share(b.limit, i)-(self.kept+take), other.kept-share(b.limit, 1-i))
		if claim > 0 {
			other.truncate(other.kept - claim)
			other.cut = true
			take += claim
		}
	}
	self.append(p[:take])
	if take < len(p) {
		self.cut = true
	}
}

func (c *capped) append(p []byte) {
	for len(p) > 0 {
		if n := len(c.chunks); n == 0 || len(c.chunks[n-1]) == chunkSize {
			c.chunks = append(c.chunks, make([]byte, 0, chunkSize))
		}
		last := &c.chunks[len(c.chunks)-1]
		k := min(chunkSize-len(*last), len(p))
		*last = append(*last, p[:k]...)
		p = p[k:]
		c.kept += k
	}
}

// truncate keeps the first n bytes, releasing whole chunks past them.
func (c *capped) truncate(n int) {
	for c.kept > n {
		last := len(c.chunks) - 1
		drop := min(c.kept-n, len(c.chunks[last]))
		c.chunks[last] = c.chunks[last][:len(c.chunks[last])-drop]
		c.kept -= drop
		if len(c.chunks[last]) == 0 {
			c.chunks[last] = nil
			c.chunks = c.chunks[:last]
		}
	}
}

// StreamCut describes what a cut stream kept and dropped.
type StreamCut struct {
	Kept, Written int64
}

// Dropped is the bytes past the cap.
func (c StreamCut) Dropped() int64 { return c.Written - c.Kept }

// result returns the kept bytes of both streams, each in one slice (nil
// when empty), and what each wrote. The budget is empty afterwards.
func (b *budget) result() (out [2][]byte, usage [2]StreamCut) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.streams {
		c := &b.streams[i]
		usage[i] = StreamCut{Kept: int64(c.kept), Written: c.written}
		if c.kept == 0 {
			continue
		}
		buf := make([]byte, 0, c.kept)
		for j, ch := range c.chunks {
			buf = append(buf, ch...)
			c.chunks[j] = nil // released as it is copied
		}
		out[i] = buf
		c.chunks, c.kept = nil, 0
	}
	return out, usage
}

// fairShares is what the budget's rule leaves of two streams that wrote
// written[0] and written[1] bytes: everything when it fits; otherwise a
// stream that wrote no more than its share keeps all of it and the other
// the rest of the limit; otherwise each keeps its share.
func fairShares(written [2]int64, limit int) [2]int64 {
	l := int64(limit)
	if written[0]+written[1] <= l {
		return written
	}
	s0, s1 := int64(share(limit, 0)), int64(share(limit, 1))
	switch {
	case written[0] <= s0:
		return [2]int64{written[0], l - written[0]}
	case written[1] <= s1:
		return [2]int64{l - written[1], written[1]}
	}
	return [2]int64{s0, s1}
}
