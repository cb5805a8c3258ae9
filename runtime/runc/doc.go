// Package runc is the daemon's side of running containers: a thin executor
// for the runc binary, the launcher of per-container shims (runtime/shim,
// cmd/logbook-shim) and the client of their sockets.
//
// # The executor
//
// Runc holds a runc binary, its state root (<state>/runc) and the cgroup
// driver, and nothing else: every method runs runc and reports what runc
// says, so a Runc is safe for concurrent use and just as right after a
// restart as before. Start, Kill, Delete, State, List and Update map one to
// one onto runc's commands. runc runs with --log-format json, so its errors
// arrive as JSON lines; a failure is a *RuncError carrying runc's message,
// matching ErrRuncFailed and, when runc's message says so, ErrNotFound (the
// container does not exist) or ErrNotRunning (it has stopped). These are
// what callers map to CRI errors.
//
// # Creating a container: the shim
//
// Create does not run runc create itself: it launches a shim (in a new
// session, with a pipe as fd 3) that does, and reads the shim's readiness
// report on the pipe: the init pid, or runc's error. The container is then
// created, parented by the shim, and Start runs it. The returned *Shim is a
// handle on that shim; OpenShim makes the same handle from the state
// directory alone, for a daemon that restarted and finds its containers'
// shims again (the pid file's start time and boot id tell a live shim from
// a reused pid).
//
// A handle holds a pidfd of the shim, polled by the runtime's netpoller:
// Shim.Wait blocks no thread, returns when the shim exits (which it does
// once its container's exit is recorded) and reaps it if it is this
// process's child. Wait then reads the exit file; ReadExit reads it for a
// container that ended while no daemon watched. A shim that is gone without
// an exit file gives ErrShimDied (it was killed; runc state tells whether
// the container still runs).
//
// The rest of a shim's protocol is its socket: Attach (output as it
// happens, stdin, terminal resizes), ReopenLog (after the kubelet rotated
// the log), Status.
//
// # Recovery, as the daemon sees it
//
// For each container the journal says is created or running:
//
//	OpenShim -> ok            Wait on it, as for a container launched now
//	         -> ErrShimGone   ReadExit -> the exit: append Exited
//	                                   -> ErrNoExit: the shim was killed;
//	                                      State decides (stopped: exited,
//	                                      code unknown; running: orphaned)
//
// List gives every container under the root, for the leak scan (containers
// runc knows that the journal does not).
//
// # Exec
//
// Exec runs runc exec without --detach: runc stays the process's parent,
// waits for it and exits with its status (128+n for signal n), so Exec
// returns exactly at the process's end with its exit code. The process
// description travels as JSON in a memfd given to runc as
// /proc/self/fd/3 (runc's init closes it before the process starts), so no
// file is left behind; runc's pid file and log go to a temporary directory
// removed afterwards. Cancelling the context kills the process, found by
// runc's pid file or among runc's children, never runc itself (its process
// would then run on, orphaned), and every process it started: the tree is
// stopped, walked and then killed, so no child escapes to the container's
// init. Output that a background process keeps
// writing after the exec'd process ended is cut after 2 s.
//
// ExecTTY is the same on a terminal. runc 1.1 honours --console-socket only
// with --detach, and a detached process is no longer runc's child, so its
// status would be lost. Instead runc gets the slave of a pseudo-terminal as
// its stdio: runc creates the container's terminal and copies between the
// two, and on SIGWINCH copies this terminal's size to the container's. A
// resize is therefore "set the size on our master, signal runc".
//
// Execs are children of the daemon (through runc), and their streams end
// with it: unlike containers, exec sessions do not survive a daemon restart.
package runc
