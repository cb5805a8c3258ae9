// Package daemon is logbookd's wiring: it opens, in order, everything the
// daemon runs on, serves until its context ends, and closes it all in
// reverse order. It decides nothing about containers; it connects the
// packages that do.
//
// # Exclusive ownership
//
// A daemon owns its state directory, its root directory and its socket. It
// proves it with an exclusive flock(2) on a lock file in each
// (<state>/logbookd.lock, <root>/logbookd.lock, <socket>.lock), taken before
// anything else is touched, without waiting: a second daemon sharing any of
// them refuses to start with ErrLocked, naming the lock file and the pid
// recorded in it. The kernel releases a flock when its process dies, so a
// crash never leaves a lock behind, and lock files are never deleted (that
// would race with the next daemon opening them). Two daemons with
// different root, state and socket run side by side.
//
// # The socket
//
// Holding the socket's lock, the daemon looks at the path: nothing there,
// it listens; a socket nobody answers on (left by a daemon that was killed),
// it removes it and listens; a socket something answers on (a daemon of
// another kind, or of an older build without the lock), it refuses with
// ErrSocketInUse; any other file, it refuses with ErrNotSocket and leaves it.
// The socket is made 0660 in a 0711 directory.
//
// # Order
//
// Locks, metrics registry, journal (and, when they land, the projector's
// store and the components built on it), the gRPC server with every service
// registered on it, the socket, the metrics endpoint. Each step registers
// its own undo as it succeeds, and Run runs the undos in reverse on every
// way out, so a startup that fails half-way leaves nothing open. Shutdown
// ends open streams (they never end on their own; see criserver), stops
// accepting, gives unary calls in flight a bounded time (GracefulStop, then
// Stop), stops the metrics endpoint, closes the journal, releases the locks,
// and makes sure the socket file is gone.
//
// # Pods and containers
//
// lifecycle.go detects the host once (cgroup layout and driver, refusing
// "systemd-cgroup" without systemd; the oom_score_adj clamp where the
// kernel refuses negative values; the capabilities the daemon itself
// holds; recursive read-only mounts), builds runc with logbook-shim and
// the pause binary found next to logbookd (or in PATH), then the container
// and sandbox aggregates, and recovers them before the socket serves:
// containers first, sandboxes next, then the leak scan. Shutdown stops
// only their monitors: containers and infra processes run on, and the
// next daemon finds them again. A daemon whose shim or pause binary is
// missing serves everything else and says why pod RPCs are Unimplemented.
//
// Every gRPC service shares the one server on the CRI socket, its limits and
// its interceptors: the CRI services and the journal's read service
// (journal/remote), through which `logbook journal ...` reads a running
// daemon's journal without touching its file.
//
// The retention loop (projection.go) compacts the journal at start and
// then periodically (snapshot plus tail, package projector); after each
// pass it tells the live projection the journal's first retained record
// (Store.ForgetRemovedBefore), so the projection's tombstones, like the
// journal, cover only the retention window. Independently of retention,
// the checkpointer stores a snapshot of the live projection every 100,000
// records, so a restart after a crash folds at most that many.
package daemon
