package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	defaultLockTimeout = time.Second
	defaultRingSize    = 4096
	// readChunk bounds the records one read transaction copies out: reads
	// never hold a transaction across a caller's callback, so a slow
	// reader never keeps bbolt from remapping a growing file.
	readChunk = 1024
)

// Journal is an open journal file. Its methods are safe for concurrent use.
type Journal struct {
	path string
	db   *bbolt.DB
	opts Options
	log  *slog.Logger

	// The write path: appenders queue requests, the committer goroutine
	// takes them in batches. queueMu guards queue and queueClosed.
	queueMu     sync.Mutex
	queue       []*appendReq
	queueClosed bool
	wake        chan struct{} // capacity 1: "the queue is not empty"
	quit        chan struct{} // closed by Close: commit what is queued, exit
	committed   chan struct{} // closed by the committer when it exits

	// compactMu serialises Compact runs.
	compactMu sync.Mutex

	// mu guards the in-memory view of the file that readers consult: the
	// retained range, the ring, the cursors and what is known to be
	// corrupt. The committer and Compact write it after their transactions
	// commit, so it never runs ahead of the disk.
	mu      sync.RWMutex
	first   uint64 // first retained seq
	last    uint64 // last appended seq; first > last when empty
	ring    ring
	notify  chan struct{} // closed and replaced after each commit
	cursors map[*cursor]struct{}
	corrupt map[uint64]error // events found corrupt on read, by seq
	closed  bool

	// commitHook, set by tests before the first Append, runs inside each
	// commit's transaction; an error fails the commit.
	commitHook func([]Record) error

	done      chan struct{} // closed by Close: cursors end
	closeOnce sync.Once
	closeErr  error
}

var _ Source = (*Journal)(nil)

// Open opens the journal at path, creating it when the file does not exist
// (or is empty). A file that is not a logbook journal is refused with
// ErrForeign and a damaged one with ErrCorrupt; neither is ever modified.
// Open reads only the meta bucket and the ends of the others, however long
// the journal.
func Open(path string, opts Options) (*Journal, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	if opts.RingSize == 0 {
		opts.RingSize = defaultRingSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !opts.ReadOnly:
		if err := create(path, opts); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("journal %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("journal %s: %w: not a regular file", path, ErrForeign)
	case fi.Size() == 0 && opts.ReadOnly:
		return nil, fmt.Errorf("journal %s: %w: empty file", path, ErrForeign)
	case fi.Size() == 0:
		// An empty file holds nothing to lose (e.g. a crash before the
		// first write of a journal created by hand): initialise it.
		if err := create(path, opts); err != nil {
			return nil, err
		}
	case !opts.ReadOnly:
		// Identify the file through a read-only open first: opening a
		// bbolt file for writing may write to it (bbolt syncs a missing
		// freelist), and a foreign file must stay untouched.
		probe, err := openBolt(path, true, opts.LockTimeout)
		if err != nil {
			return nil, err
		}
		_, err = loadState(probe, path)
		probe.Close()
		if err != nil {
			return nil, err
		}
	}

	db, err := openBolt(path, opts.ReadOnly, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	st, err := loadState(db, path)
	if err != nil {
		db.Close()
		return nil, err
	}
	j := &Journal{
		path:      path,
		db:        db,
		opts:      opts,
		log:       opts.Logger.With("journal", path),
		wake:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		committed: make(chan struct{}),
		first:     st.first,
		last:      st.last,
		ring:      newRing(max(opts.RingSize, 0)),
		notify:    make(chan struct{}),
		cursors:   make(map[*cursor]struct{}),
		corrupt:   make(map[uint64]error),
		done:      make(chan struct{}),
	}
	if opts.ReadOnly {
		close(j.committed)
	} else {
		go j.commitLoop()
	}
	j.log.Debug("journal opened", "first", st.first, "last", st.last, "snapshot", st.snapshot, "read_only", opts.ReadOnly)
	return j, nil
}

// create initialises a new journal beside path and moves it into place, so
// that a crash never leaves a half-initialised file under the journal's name
// (which the next Open would have to tell apart from a foreign file).
func create(path string, opts Options) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".init-*")
	if err != nil {
		return fmt.Errorf("journal %s: create: %w", path, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // after a successful link, removes the extra name

	db, err := bbolt.Open(tmpName, 0o600, &bbolt.Options{Timeout: opts.LockTimeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("journal %s: create: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bucketEvents, bucketSnapshots} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		version := binary.BigEndian.AppendUint32(nil, formatVersion)
		for _, kv := range [][2][]byte{
			{keyMagic, []byte(formatMagic)},
			{keyVersion, version},
			{keyFirst, u64(1)},
			{keyLast, u64(0)},
			{keySnapshot, u64(0)},
		} {
			if err := meta.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal %s: create: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		err = os.Rename(tmpName, path)
	} else {
		// Link, not rename: never replace a file that appeared meanwhile.
		err = os.Link(tmpName, path)
		if errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("journal %s: create: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// openBolt opens the bbolt file and turns its failures into the journal's
// sentinels.
func openBolt(path string, readOnly bool, timeout time.Duration) (db *bbolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("journal %s: %w: bbolt: %v", path, ErrCorrupt, p)
		}
	}()
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      timeout,
		ReadOnly:     readOnly,
		FreelistType: bbolt.FreelistMapType,
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("journal %s: %w: another process (a running logbookd?) holds its lock; waited %s; read it through the daemon or from a copy", path, ErrLocked, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("journal %s: %w: not a bbolt file (%v)", path, ErrForeign, err)
	case errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("journal %s: %w: bbolt meta page: %v", path, ErrCorrupt, err)
	default:
		return nil, fmt.Errorf("journal %s: open: %w", path, err)
	}
}

// state is what Open learns from the meta bucket.
type state struct {
	first, last, snapshot uint64
}

// layout is what the meta bucket claims together with what the ends of the
// other buckets show; checkLayout judges it without touching the file.
type layout struct {
	state
	events    bool   // the events bucket holds any key
	evFirst   uint64 // its first and last keys, when events
	evLast    uint64
	snaps     bool // the snapshots bucket holds any key
	snapFirst uint64
	snapLast  uint64
	baseSnap  bool // a snapshot exists at first-1 (when first > 1)
}

// checkLayout returns the first invariant l breaks, or nil. Events below
// first may remain after an interrupted Compact: they are invisible and the
// next Compact deletes them.
func checkLayout(l layout) error {
	switch {
	case l.first == 0:
		return fmt.Errorf("%w: meta/first is 0", ErrCorrupt)
	case l.first > l.last+1:
		return fmt.Errorf("%w: meta/first %d is beyond meta/last %d + 1", ErrCorrupt, l.first, l.last)
	case !l.events && l.first <= l.last:
		return fmt.Errorf("%w: events %d..%d are missing", ErrCorrupt, l.first, l.last)
	case l.events && l.evLast != l.last:
		return fmt.Errorf("%w: last event is %d, meta/last is %d", ErrCorrupt, l.evLast, l.last)
	case l.events && l.first <= l.last && l.evFirst > l.first:
		return fmt.Errorf("%w: first event is %d, meta/first is %d", ErrCorrupt, l.evFirst, l.first)
	case !l.snaps && l.snapshot != 0:
		return fmt.Errorf("%w: meta/snapshot is %d but there are no snapshots", ErrCorrupt, l.snapshot)
	case l.snaps && l.snapLast != l.snapshot:
		return fmt.Errorf("%w: newest snapshot is %d, meta/snapshot is %d", ErrCorrupt, l.snapLast, l.snapshot)
	case l.snaps && l.snapLast > l.last:
		return fmt.Errorf("%w: snapshot %d is beyond the last event %d", ErrCorrupt, l.snapLast, l.last)
	case l.first > 1 && !l.baseSnap:
		return fmt.Errorf("%w: no snapshot at %d, the state before the first retained event", ErrCorrupt, l.first-1)
	case l.snaps && l.first > 1 && l.snapFirst < l.first-1:
		return fmt.Errorf("%w: snapshot %d predates the retained range (first %d)", ErrCorrupt, l.snapFirst, l.first)
	}
	return nil
}

// readLayout reads the meta bucket and the ends of the others. It returns
// ErrForeign for a bbolt file that is not a journal.
func readLayout(tx *bbolt.Tx) (layout, error) {
	var l layout
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return l, fmt.Errorf("%w: bbolt file without a %q bucket", ErrForeign, bucketMeta)
	}
	if m := meta.Get(keyMagic); !bytes.Equal(m, []byte(formatMagic)) {
		return l, fmt.Errorf("%w: meta/magic is %q, want %q", ErrForeign, m, formatMagic)
	}
	v := meta.Get(keyVersion)
	if len(v) != 4 {
		return l, fmt.Errorf("%w: meta/version is %d bytes, want 4", ErrCorrupt, len(v))
	}
	if ver := binary.BigEndian.Uint32(v); ver == 0 || ver > formatVersion {
		return l, fmt.Errorf("%w: file format %d (this build reads up to %d)", ErrFormatVersion, ver, formatVersion)
	}
	var err error
	if l.first, err = parseU64("first", meta.Get(keyFirst)); err != nil {
		return l, err
	}
	if l.last, err = parseU64("last", meta.Get(keyLast)); err != nil {
		return l, err
	}
	if l.snapshot, err = parseU64("snapshot", meta.Get(keySnapshot)); err != nil {
		return l, err
	}
	events, snaps := tx.Bucket(bucketEvents), tx.Bucket(bucketSnapshots)
	if events == nil || snaps == nil {
		return l, fmt.Errorf("%w: bucket %q or %q is missing", ErrCorrupt, bucketEvents, bucketSnapshots)
	}
	ends := func(b *bbolt.Bucket, name string) (any bool, first, last uint64, err error) {
		c := b.Cursor()
		kf, _ := c.First()
		if kf == nil {
			return false, 0, 0, nil
		}
		kl, _ := c.Last()
		f, ok1 := keySeq(kf)
		l, ok2 := keySeq(kl)
		if !ok1 || !ok2 {
			return false, 0, 0, fmt.Errorf("%w: bucket %q holds a key that is not a sequence number", ErrCorrupt, name)
		}
		return true, f, l, nil
	}
	if l.events, l.evFirst, l.evLast, err = ends(events, "events"); err != nil {
		return l, err
	}
	if l.snaps, l.snapFirst, l.snapLast, err = ends(snaps, "snapshots"); err != nil {
		return l, err
	}
	if l.first > 1 {
		l.baseSnap = snaps.Get(seqKey(l.first-1)) != nil
	}
	return l, nil
}

// loadState reads and checks the meta of an open bbolt file.
func loadState(db *bbolt.DB, path string) (state, error) {
	var l layout
	err := viewDB(db, path, func(tx *bbolt.Tx) error {
		var err error
		if l, err = readLayout(tx); err != nil {
			return err
		}
		return checkLayout(l)
	})
	if err != nil {
		return state{}, fmt.Errorf("journal %s: %w", path, err)
	}
	return l.state, nil
}

// viewDB runs a read transaction, turning a bbolt panic on a damaged page
// into ErrCorrupt and a closed database into ErrClosed.
func viewDB(db *bbolt.DB, path string, fn func(*bbolt.Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: bbolt: %v", ErrCorrupt, p)
		}
	}()
	err = db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return err
}

func (j *Journal) view(fn func(*bbolt.Tx) error) error {
	return viewDB(j.db, j.path, fn)
}

// update runs a write transaction (bbolt fsyncs it before returning).
func (j *Journal) update(fn func(*bbolt.Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: bbolt: %v", ErrCorrupt, p)
		}
	}()
	err = j.db.Update(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return err
}

// Path returns the journal's file path.
func (j *Journal) Path() string { return j.path }

// Bounds returns the retained range: first is the oldest record, last the
// newest; first > last when no record is retained.
func (j *Journal) Bounds(ctx context.Context) (first, last uint64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	if j.closed {
		return 0, 0, fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	return j.first, j.last, nil
}

// Read calls fn for each record with from <= Seq <= to, in order. from == 0
// means the first retained record; to == 0 (or beyond the end) the last
// record at the time of the call. A from before the first retained record
// is ErrCompacted. Read holds no transaction while fn runs; records handed
// to fn are the caller's to keep, but their Payload must not be modified.
// On a damaged record, Read delivers every record before it and then
// returns ErrCorrupt, the same way on every call.
func (j *Journal) Read(ctx context.Context, from, to uint64, fn func(Record) error) error {
	j.mu.RLock()
	first, last, closed := j.first, j.last, j.closed
	j.mu.RUnlock()
	if closed {
		return fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	if from == 0 {
		from = first
	}
	if from < first {
		return fmt.Errorf("journal %s: %w: read from %d, first retained record is %d", j.path, ErrCompacted, from, first)
	}
	if to == 0 || to > last {
		to = last
	}
	if from > to {
		return nil
	}
	in := newInterner()
	buf := make([]Record, 0, min(to-from+1, readChunk))
	for from <= to {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		buf, err = j.fetch(buf[:0], from, to, readChunk, in)
		for _, r := range buf {
			if err := fn(r); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		if len(buf) == 0 {
			// The range ended early: only a concurrent Close does that,
			// and fetch reports it; be safe rather than spin.
			return fmt.Errorf("journal %s: %w: no record at %d", j.path, ErrCorrupt, from)
		}
		from = buf[len(buf)-1].Seq + 1
	}
	return nil
}

// fetch appends to dst up to max records with from <= Seq <= to (to at most
// the last record), from the ring when it holds from and otherwise from disk
// in one short read transaction. It returns no records and no error when
// from is beyond the last record.
func (j *Journal) fetch(dst []Record, from, to uint64, max int, in *interner) ([]Record, error) {
	j.mu.RLock()
	switch {
	case j.closed:
		j.mu.RUnlock()
		return dst, fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	case from < j.first:
		first := j.first
		j.mu.RUnlock()
		return dst, fmt.Errorf("journal %s: %w: %d is before the first retained record %d", j.path, ErrCompacted, from, first)
	case from > j.last:
		j.mu.RUnlock()
		return dst, nil
	}
	to = min(to, j.last)
	if max > 0 && to-from >= uint64(max) {
		to = from + uint64(max) - 1
	}
	n := len(dst)
	dst, ok := j.ring.read(dst, from, int(to-from+1))
	// Corruption seen before is reported again without another look.
	var known error
	bad := uint64(0)
	for s, err := range j.corrupt {
		if s >= from && s <= to && (bad == 0 || s < bad) {
			bad, known = s, err
		}
	}
	j.mu.RUnlock()
	if ok && len(dst) > n {
		return dst, nil
	}
	if known != nil {
		to = bad - 1
		if bad == from {
			return dst, known
		}
	}
	dst, err := j.readDisk(dst, from, to, in)
	if err == nil {
		err = known
	}
	return dst, err
}

// readDisk appends the records from..to to dst in one read transaction.
func (j *Journal) readDisk(dst []Record, from, to uint64, in *interner) ([]Record, error) {
	var bad uint64
	err := j.view(func(tx *bbolt.Tx) error {
		first, err := parseU64("first", tx.Bucket(bucketMeta).Get(keyFirst))
		if err != nil {
			return err
		}
		if from < first {
			return fmt.Errorf("%w: %d is before the first retained record %d", ErrCompacted, from, first)
		}
		c := tx.Bucket(bucketEvents).Cursor()
		k, v := c.Seek(seqKey(from))
		for s := from; s <= to; s++ {
			if got, ok := keySeq(k); !ok || got != s {
				bad = s
				return fmt.Errorf("%w: record %d is missing", ErrCorrupt, s)
			}
			r, err := decodeEnvelope(k, v, in)
			if err != nil {
				bad = s
				return fmt.Errorf("record %d: %w", s, err)
			}
			dst = append(dst, r)
			k, v = c.Next()
		}
		return nil
	})
	if err == nil {
		return dst, nil
	}
	err = fmt.Errorf("journal %s: %w", j.path, err)
	if bad != 0 && (errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFormatVersion)) {
		j.mu.Lock()
		if len(j.corrupt) < 1024 {
			j.corrupt[bad] = err
		}
		j.mu.Unlock()
		j.log.Error("journal record unreadable", "seq", bad, "err", err)
	}
	return dst, err
}

// Snapshot returns the newest snapshot at or before seq (0: the newest of
// all), or ErrNoSnapshot.
func (j *Journal) Snapshot(ctx context.Context, seq uint64) (at uint64, data []byte, err error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	err = j.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketSnapshots).Cursor()
		var k, v []byte
		if seq == 0 {
			newest, err := parseU64("snapshot", tx.Bucket(bucketMeta).Get(keySnapshot))
			if err != nil {
				return err
			}
			if newest == 0 {
				return fmt.Errorf("%w: the journal has none", ErrNoSnapshot)
			}
			if k, v = c.Seek(seqKey(newest)); k == nil || !bytes.Equal(k, seqKey(newest)) {
				return fmt.Errorf("%w: snapshot %d (meta/snapshot) is missing", ErrCorrupt, newest)
			}
		} else {
			if k, v = c.Seek(seqKey(seq)); k == nil || !bytes.Equal(k, seqKey(seq)) {
				k, v = c.Prev()
			}
			if k == nil {
				return fmt.Errorf("%w: none at or before %d", ErrNoSnapshot, seq)
			}
		}
		at, _ = keySeq(k)
		d, err := decodeSnapshot(k, v)
		if err != nil {
			return fmt.Errorf("snapshot %d: %w", at, err)
		}
		data = d
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	return at, data, nil
}

// PutSnapshot stores data, the caller's projection of the journal up to and
// including seq, durably. seq must lie in the retained range (or be the
// snapshot base, First-1); a snapshot at the same seq is replaced.
func (j *Journal) PutSnapshot(ctx context.Context, seq uint64, data []byte) error {
	if err := j.writable(ctx); err != nil {
		return err
	}
	val := appendSnapshot(nil, seq, data)
	err := j.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		first, err := parseU64("first", meta.Get(keyFirst))
		if err != nil {
			return err
		}
		last, err := parseU64("last", meta.Get(keyLast))
		if err != nil {
			return err
		}
		newest, err := parseU64("snapshot", meta.Get(keySnapshot))
		if err != nil {
			return err
		}
		if seq < max(first-1, 1) || seq > last {
			return fmt.Errorf("%w: snapshot at %d outside %d..%d", ErrOutOfRange, seq, max(first-1, 1), last)
		}
		if err := tx.Bucket(bucketSnapshots).Put(seqKey(seq), val); err != nil {
			return err
		}
		if seq > newest {
			return meta.Put(keySnapshot, u64(seq))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal %s: put snapshot %d: %w", j.path, seq, err)
	}
	return nil
}

// writable is the common precondition of the write methods.
func (j *Journal) writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if j.opts.ReadOnly {
		return fmt.Errorf("journal %s: %w", j.path, ErrReadOnly)
	}
	j.mu.RLock()
	closed := j.closed
	j.mu.RUnlock()
	if closed {
		return fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	return nil
}

// Stats returns a summary of the journal for metrics and the CLI. It never
// fails: on a closed or unreadable journal, the fields it cannot learn stay
// zero.
func (j *Journal) Stats() Stats {
	j.mu.RLock()
	s := Stats{First: j.first, Last: j.last, Cursors: make([]uint64, 0, len(j.cursors))}
	for c := range j.cursors {
		s.Cursors = append(s.Cursors, c.position())
	}
	j.mu.RUnlock()
	sort.Slice(s.Cursors, func(a, b int) bool { return s.Cursors[a] < s.Cursors[b] })
	_ = j.view(func(tx *bbolt.Tx) error {
		s.SizeBytes = tx.Size()
		return tx.Bucket(bucketSnapshots).ForEach(func(k, _ []byte) error {
			if seq, ok := keySeq(k); ok {
				s.SnapshotSeqs = append(s.SnapshotSeqs, seq)
			}
			return nil
		})
	})
	return s
}

// Close stops the committer (appends already queued are committed first),
// ends every cursor with ErrClosed and closes the file. Later calls return
// nil.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.queueMu.Lock()
		j.queueClosed = true
		j.queueMu.Unlock()
		close(j.quit)
		<-j.committed

		j.mu.Lock()
		j.closed = true
		close(j.done)
		j.ring.reset()
		j.mu.Unlock()

		if err := j.db.Close(); err != nil {
			j.closeErr = fmt.Errorf("journal %s: close: %w", j.path, err)
		}
		j.log.Debug("journal closed")
	})
	return j.closeErr
}
