// Package remote serves a journal over gRPC and reads one back, so that the
// operator's CLI can dump, follow and replay a running daemon's journal
// without touching its file (which the daemon holds locked, and whose
// reader would otherwise have to share the daemon's bbolt lock).
//
// The service, logbook.journal.v1.Journal (journal.proto), mirrors
// journal.Source method for method: Bounds, Read, Tail and Snapshot. The
// daemon registers it on its CRI socket with Register; Client implements
// journal.Source over a connection, so every reader in the project is
// written once against the interface and works on a file or a daemon alike.
//
// Streams carry records in batches (RecordBatch, bounded by count and
// bytes) because replaying a million records one message each would spend
// its time in framing. Snapshots travel in chunks, so a large projection
// never meets gRPC's message size limit.
//
// A tail is one server stream per subscriber, backed on the server by a
// journal cursor: when the client stops reading, gRPC flow control blocks
// that stream's handler, which holds only its own cursor position; the
// journal's writers and other subscribers never notice. The Tail handler
// sends its response headers once the cursor exists, so Client.Tail reports
// a bad position (ErrCompacted) itself instead of at the first Next. On the
// client, each cursor owns one goroutine that receives the stream; Close
// cancels the stream and waits for it.
//
// Errors cross the wire as gRPC statuses whose code follows gRPC's
// conventions (ErrCompacted is OutOfRange, ErrNoSnapshot is NotFound,
// ErrClosed is Unavailable, ErrCorrupt is DataLoss) and whose ErrorInfo
// detail names the sentinel exactly; the client turns them back into
// errors that match the journal's sentinels with errors.Is. One table in
// errors.go drives both directions.
//
// The service stubs are written by hand (service.go, client.go) rather
// than generated: the project generates only messages, and four methods are
// short enough to read.
package remote
