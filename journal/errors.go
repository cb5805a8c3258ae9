package journal

import "errors"

// Sentinel errors. The journal wraps them with %w and adds the file path and
// the sequence numbers concerned, so errors.Is works and the message still
// says where to look.
var (
	// ErrClosed: the journal (or the cursor) has been closed. Cursors of a
	// closed journal end with it, and queued appends that could not be
	// committed before Close fail with it.
	ErrClosed = errors.New("journal closed")

	// ErrReadOnly: a write (Append, PutSnapshot, Compact) on a journal
	// opened with Options.ReadOnly.
	ErrReadOnly = errors.New("journal opened read-only")

	// ErrLocked: another process holds the file's lock (a running daemon);
	// read its journal through package journal/remote, or a copy of the file.
	ErrLocked = errors.New("journal file locked by another process")

	// ErrForeign: the file is not a logbook journal (not bbolt at all, or a
	// bbolt file of another program). It is left untouched.
	ErrForeign = errors.New("not a logbook journal")

	// ErrFormatVersion: the file, or one of its envelopes, was written by a
	// newer logbook whose format this build does not know.
	ErrFormatVersion = errors.New("unsupported journal format version")

	// ErrCorrupt: the file is a logbook journal but some of it is damaged: a
	// checksum mismatch, an undecodable envelope, a gap in the sequence, a
	// missing bucket. The journal never repairs or resets a file by itself.
	ErrCorrupt = errors.New("journal corrupt")

	// ErrCompacted: the requested position lies before the first retained
	// record; start from the snapshot at First-1 instead.
	ErrCompacted = errors.New("journal position compacted away")

	// ErrOutOfOrder: an operation would break the density of sequence
	// numbers, e.g. an appended Record carrying a Seq other than the one it
	// would be given.
	ErrOutOfOrder = errors.New("journal sequence out of order")

	// ErrOutOfRange: a sequence number beyond the journal's bounds, e.g. a
	// snapshot of a state the journal has not reached.
	ErrOutOfRange = errors.New("journal sequence out of range")

	// ErrNoSnapshot: no snapshot at or before the requested sequence, or
	// Compact(before) without a snapshot at exactly before-1.
	ErrNoSnapshot = errors.New("no journal snapshot")

	// ErrInvalidRecord: a record Append refuses before queueing it (no Type).
	ErrInvalidRecord = errors.New("invalid journal record")
)

// errRollback ends Check's write transaction without committing it; it
// never leaves the package.
var errRollback = errors.New("rollback")
