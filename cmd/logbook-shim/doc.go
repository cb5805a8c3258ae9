// Command logbook-shim is the per-container monitor process of logbook: it
// parents one container, keeps its stdio, writes its CRI log, serves attach
// and records its exit. logbookd launches it (runtime/runc); what it does
// is in runtime/shim, whose documentation describes the process tree, the
// state directory, the socket protocol and the exit file. This command is
// only the process's wiring: arguments, runtime tuning, logging.
//
// One runs beside every container of a node, so it is kept small: it links
// the standard library and golang.org/x/sys only, and not log/slog,
// encoding/json or anything of gRPC, bbolt or protobuf (main_test.go
// enforces it). Build it with CGO_ENABLED=0.
package main
