// Package journal is logbook's lifecycle journal: an append-only log of
// versioned envelopes in one bbolt file, the source of truth every status,
// list and event stream of the runtime is projected from. The journal knows
// nothing of containers; a Record's Type and Payload get their meaning from
// package journal/events.
//
// # Basics
//
// Records get dense sequence numbers starting at 1: Append assigns them,
// nothing ever renumbers them, and a gap anywhere is corruption. Readers use
// the Source interface (Bounds, Read, Tail, Snapshot), which the remote
// client of a running daemon implements too, so the operator's CLI reads a
// live journal over the daemon's socket and a copied file alike.
//
// # Group commit
//
// One committer goroutine owns the write path. Append copies the caller's
// records into a request, queues it and waits; the committer takes every
// request queued at that moment (up to a bound), writes them in one
// db.Update, so one pair of fsyncs covers the whole batch, assigns the
// sequence numbers in queue order, then publishes the batch (the in-memory
// ring, the cursors, Options.OnCommit, in sequence order) and only then
// releases the appenders. While one batch is on its way to the disk the
// next one gathers in the queue, so throughput rises with concurrency
// instead of latency. When the last batch released several appenders, the
// committer waits up to gatherLinger (200µs) for as many requests to be
// queued again before it commits (PostgreSQL's commit_delay, bounded and
// skipped for a lone appender or an idle journal): with a commit costing
// two fdatasyncs, a full batch is worth far more than the wait. An appender whose context ends while its request is
// still queued withdraws it and is never committed; once taken, it waits
// for the outcome. A failed transaction (ENOSPC, EIO) rolls back: exactly
// the appenders of that batch get the error, the sequence numbers are
// reused by the next batch, and the file is as before. bbolt's NoSync stays
// false: an acknowledged record is on disk.
//
// # Cursors
//
// A tail is a cursor with its own position and no goroutine. Near the head
// it copies records from the ring of recent commits; when it has fallen
// behind the ring it reads the disk in short read transactions (a bounded
// chunk each, never across a callback, so a slow reader cannot keep bbolt
// from growing the file); at the head it waits on a channel the committer
// closes and replaces after each commit. The committer never waits for a
// cursor and never queues records for one: a stalled subscriber costs its
// position and nothing else, and when it resumes it reads everything it
// missed, in order, from disk. Closing the journal ends every cursor with
// ErrClosed; a cursor whose Tail context ends leaves Stats at once
// (context.AfterFunc), even if nobody calls it again.
//
// # Retention: snapshot plus tail
//
// The journal keeps the events from First to Last and opaque snapshots: the
// caller's projection of the journal up to some sequence number (package
// projector computes them and decides when to compact). Compact(before)
// requires a snapshot at exactly before-1, so the state at the first
// retained event is always the snapshot at First-1 folded forward. It moves
// meta/first and drops the snapshots older than that base in one
// transaction, so readers see the new bounds atomically (a position before
// First is ErrCompacted); then it deletes the dropped events in chunks of
// compactChunk per transaction, so compacting millions of events never
// holds one huge transaction and appends interleave with it. Events left
// below First by an interrupted compaction are invisible, tolerated by
// Check, and deleted by the next Compact. The file does not shrink: bbolt
// reuses the freed pages.
//
// # Damage and foreign files
//
// Every event and snapshot carries a CRC32C over its key and value, checked
// on every read from disk, so a flipped bit is reported (ErrCorrupt, naming
// the file and the sequence number) instead of folded into a projection. A
// damaged record is remembered and reported again on every later read of
// its range, after the records before it have been delivered. A file that
// is not a journal (not bbolt, or bbolt without the journal's magic) is
// ErrForeign; a newer format is ErrFormatVersion. Open identifies a file
// through a read-only open before it opens it for writing, and nothing in
// this package ever resets, repairs or rewrites a file it does not
// recognise. bbolt's file lock keeps a second process out: while a daemon
// runs, Open (even read-only) fails with ErrLocked after Options.LockTimeout.
//
// Startup reads only the meta bucket and the first and last keys of the
// other buckets, whatever the journal's length; Check reads everything.
//
// # On-disk format (version 1)
//
// One bbolt file (mode 0600) with three top-level buckets:
//
//	meta        magic     "logbook-journal" (15 bytes): a logbook journal
//	            version   uint32 big-endian, 1: the file format
//	            first     uint64 big-endian: first retained seq (1 when new)
//	            last      uint64 big-endian: last appended seq (0 when new)
//	            snapshot  uint64 big-endian: newest snapshot seq (0: none)
//	events      key: seq, uint64 big-endian (bbolt order is log order)
//	            value: event envelope
//	snapshots   key: seq the snapshot was taken at, uint64 big-endian
//	            value: snapshot envelope
//
// The event envelope, version 1:
//
//	version      1 byte   = 1
//	time         8 bytes  int64 big-endian, unix nanoseconds
//	type         uvarint length, then UTF-8 bytes
//	sandbox id   uvarint length, then bytes
//	container id uvarint length, then bytes
//	payload      the remaining bytes up to the checksum (opaque)
//	crc          4 bytes  uint32 big-endian: CRC32C (Castagnoli) of the
//	                      8-byte key followed by every value byte before it
//
// Length prefixes are minimal uvarints (a reader refuses one padded with a
// zero byte), so every record has exactly one encoding.
//
// The snapshot envelope, version 1: a version byte (1), the opaque data,
// and the same trailing CRC32C over key and body. In every version, the last
// four bytes of a value are that checksum, so a reader can always tell a
// damaged value from one of a newer version (ErrFormatVersion).
//
// Invariants (Check verifies them all): First >= 1 and First <= Last+1;
// the events bucket holds exactly First..Last, densely, plus possibly a dense
// run of leftovers just below First; meta/snapshot is the newest snapshot
// key and is at most Last; when First > 1 a snapshot exists at First-1 and
// none older. testdata/envelope-v1.golden pins the envelopes and
// testdata/v1.journal is a whole version-1 file: TestGolden fails when the
// encoding changes or when this build can no longer read either
// (LOGBOOK_UPDATE_GOLDEN=1 rewrites them, for a deliberate new version
// only).
//
// # Concurrency
//
// Journal.mu guards the in-memory view that readers consult (bounds, ring,
// cursor list, known damage); the committer and Compact update it after
// their transactions commit, so it never runs ahead of the disk. queueMu
// guards the append queue. The committer is the only goroutine that
// appends; Compact and PutSnapshot write through their own transactions,
// which bbolt serialises with the committer's.
package journal
