// Command logbook is the operator's CLI for logbookd's lifecycle journal.
//
// Sources. A running daemon owns its journal file (bbolt locks it), so the
// CLI reads a live journal through the daemon's socket: the journal's
// read-only gRPC service (package journal/remote) serves ranges, tails and
// snapshots from the daemon's own handle, without blocking its appenders. A
// stopped daemon's file, or a copy taken from a broken node, is opened
// read-only with --file. Both are a journal.Source, so every command below
// is written once.
//
// Commands.
//
//   - dump prints records of a range, filtered by pod, container or type,
//     as a table (with pod and container names) or JSON lines (the envelope
//     and the payload as protobuf JSON).
//   - follow tails the journal live, from now or from a sequence number.
//   - replay folds the journal up to a position (the newest snapshot at or
//     before it, then the records after it) and prints every pod sandbox,
//     container and image as they were there.
//   - verify checks density, decodability, that the state at the first
//     retained record can be rebuilt, that every record is a legal
//     transition, and for a file bbolt's own consistency check. It exits 1
//     when it finds a problem.
//
// Names in tables come from the state before the first record shown and
// from the creating events as they pass, so a removal still prints the
// name of what was removed.
package main
