package journal

// ring holds the most recent records in memory so that tails near the head
// are served without touching the disk. It is a plain circular buffer with
// no locking of its own: Journal.mu guards it.
type ring struct {
	buf []Record
	// last is the sequence number of the newest record held; count how
	// many are held, so the ring covers (last-count, last].
	last  uint64
	count int
}

func newRing(size int) ring {
	return ring{buf: make([]Record, size)}
}

// first is the oldest sequence number held, or last+1 when empty.
func (r *ring) first() uint64 { return r.last + 1 - uint64(r.count) }

// push appends records whose sequence numbers continue the ring's (the
// first push may start anywhere). Overwritten slots are released.
func (r *ring) push(recs []Record) {
	if len(r.buf) == 0 || len(recs) == 0 {
		return
	}
	if r.count > 0 && recs[0].Seq != r.last+1 {
		// Not contiguous (cannot happen with the committer as the only
		// writer): start over rather than serve a hole.
		r.reset()
	}
	if len(recs) > len(r.buf) {
		recs = recs[len(recs)-len(r.buf):]
	}
	for i := range recs {
		r.buf[recs[i].Seq%uint64(len(r.buf))] = recs[i]
	}
	r.last = recs[len(recs)-1].Seq
	r.count = min(r.count+len(recs), len(r.buf))
}

// read appends to dst up to max records starting at seq, if the ring holds
// seq; ok is false when seq is older than the ring (read the disk) and true
// with nothing appended when seq is beyond the newest record.
func (r *ring) read(dst []Record, seq uint64, max int) ([]Record, bool) {
	if r.count == 0 || seq < r.first() {
		return dst, false
	}
	for s := seq; s <= r.last && max > 0; s++ {
		dst = append(dst, r.buf[s%uint64(len(r.buf))])
		max--
	}
	return dst, true
}

func (r *ring) reset() {
	clear(r.buf)
	r.count = 0
}
