// Package events is the lifecycle event schema of logbook: the one home of
// every event type and its payload, imported both by runtime (which appends
// events) and by projector (which folds them). The journal stores payloads as
// opaque bytes; this package gives them meaning.
//
// Payloads are protocol buffers (events.proto, generated into events.pb.go
// by `make generate`) because they embed the CRI's own messages
// (PodSandboxConfig, ContainerConfig, Mount, ...) losslessly and decode fast
// enough for a restart to replay a million events in well under two seconds.
//
// Each event type is a string of the form "<aggregate>.<transition>", e.g.
// "container.exited", naming exactly one payload message; Types lists them.
// Evolution: payload messages only gain fields; a changed meaning is a new
// type. An envelope whose type is unknown to this build is an error
// (ErrUnknownType), never silently skipped, so an old daemon cannot fold a
// newer journal wrongly.
//
// The order of a sandbox's and a container's events, and so their state
// machines, is defined by projector, which folds them.
package events
