package journal

// This file is the journal's public contract. The implementation lives in
// the other files of the package.

import (
	"context"
	"log/slog"
	"time"
)

// Record is one journal entry: the versioned envelope around an opaque
// payload. The journal knows nothing of what Type or Payload mean (package
// journal/events does).
type Record struct {
	// Seq is assigned by Append: dense, monotonic, starting at 1.
	Seq uint64
	// Time of the append in unix nanoseconds; Append sets it when zero.
	Time int64
	// Type names the payload's schema, e.g. "container.exited".
	Type string
	// SandboxID and ContainerID name the objects the event concerns; either
	// may be empty (image events have neither).
	SandboxID   string
	ContainerID string
	// Payload is opaque to the journal. Records handed out by the journal
	// (Read, cursors, OnCommit) may share their Payload with other readers:
	// never modify it.
	Payload []byte
}

// Metrics receives the journal's measurements. metrics.Journal implements it;
// nil disables them.
type Metrics interface {
	// Committed is called once per durable group commit.
	Committed(events int, took time.Duration)
	// Compacted is called after each compaction run.
	Compacted(dropped int)
}

// Options configure Open.
type Options struct {
	// OnCommit, when set, is called by the committer with each durable
	// batch, in sequence order, before the appenders of that batch return.
	// It must be fast and must not call back into the journal's Append.
	// The live projection is fed this way, so a caller that returns from
	// Append reads its own writes.
	OnCommit func([]Record)
	// ReadOnly opens the file without writing; Append fails.
	ReadOnly bool
	// LockTimeout bounds the wait for the file lock (another process holds
	// it). Zero means 1 s. Opening fails with ErrLocked after it.
	LockTimeout time.Duration
	// RingSize is the number of recent records kept in memory so that tails
	// near the head never touch the disk. Zero means 4096; negative keeps
	// none (every tail reads the disk).
	RingSize int
	Logger   *slog.Logger
	Metrics  Metrics
}

// Stats is a point-in-time summary for metrics and the CLI.
type Stats struct {
	First, Last  uint64 // retained range; First > Last when empty
	SnapshotSeqs []uint64
	SizeBytes    int64
	// Cursors holds, for each open tail, the sequence number it will
	// deliver next; Last+1-cursor is its lag.
	Cursors []uint64
}

// Source is what readers of a journal need; *Journal implements it, and so
// does the remote client of a running daemon's journal.
type Source interface {
	Bounds(ctx context.Context) (first, last uint64, err error)
	// Read calls fn for each record with from <= Seq <= to, in order; to == 0
	// means up to the last record at the time of the call, from == 0 the
	// first retained record. A from before the first retained record is
	// ErrCompacted. An error of fn ends Read and is returned as is.
	Read(ctx context.Context, from, to uint64, fn func(Record) error) error
	// Tail delivers every record with Seq >= from, replaying from disk and
	// then following live appends; from == 0 means "after the current last".
	// A from before the first retained record is ErrCompacted. ctx bounds
	// the cursor's life: when it ends, the cursor ends with ctx's error.
	// Close the cursor when done.
	Tail(ctx context.Context, from uint64) (Cursor, error)
	// Snapshot returns the newest snapshot at or before seq (0: the newest),
	// or ErrNoSnapshot.
	Snapshot(ctx context.Context, seq uint64) (at uint64, data []byte, err error)
}

// Cursor is a subscriber's own position in the journal. Next blocks until a
// record is available or ctx ends; a slow caller never blocks appenders or
// other cursors, it just reads from disk when it has fallen behind the ring.
// A cancelled Next leaves the cursor usable; any other error ends it (the
// journal closed: ErrClosed; compacted past its position: ErrCompacted;
// damage: ErrCorrupt) and is returned again by every later call. Next is
// for one goroutine at a time; Close may be called from any, and makes a
// blocked Next return ErrClosed.
type Cursor interface {
	Next(ctx context.Context) (Record, error)
	Close() error
}

// BatchCursor is a Cursor that also hands out records in batches, for
// readers that want throughput (the remote service, replaying subscribers).
// The cursors of *Journal and of remote.Client implement it.
type BatchCursor interface {
	Cursor
	// NextBatch blocks like Next and returns at least one record and at
	// most max (a default when max <= 0); the slice is the caller's.
	NextBatch(ctx context.Context, max int) ([]Record, error)
}
