// Package shim is the per-container monitor of logbook: the logic of the
// logbook-shim process, and the protocol types the daemon side
// (runtime/runc) shares with it.
//
// # Why a shim
//
// Containers outlive the daemon (invariant 6 of the design brief). A
// container's init must have a parent that stays: something must hold the
// other ends of its stdio pipes, turn its output into the CRI log, reap it
// and record how it ended. logbookd cannot be that parent, since it is
// restarted and killed; so each container (and each sandbox's infra
// process) gets its own small process, the shim, which does exactly this
// and nothing else, and exits once its container has exited and the exit is
// on disk. Execs are not the shim's business: runc exec runs them, from the
// daemon (see runtime/runc).
//
// # Process tree
//
//	logbookd                        launches the shim: new session, fd 3 = readiness pipe
//	└── logbook-shim                PR_SET_CHILD_SUBREAPER, stdio -> state/shim.log
//	    ├── runc create             (until it returns; its stdio are the container's pipes)
//	    └── container init          re-parented to the shim when runc create exits
//	        └── ...                 the container's processes
//
// When logbookd dies the shim is re-parented to init (or to the nearest
// sub-reaper) and carries on; the container notices nothing. A new logbookd
// finds the shim again through the pid file. The shim is a sub-reaper, so
// whatever is orphaned below it comes to it and is reaped; only the
// container's init is reported.
//
// # Life of a shim
//
//  1. Detach: setsid, sub-reaper, stdio to shim.log.
//  2. Write shim.pid (before anything else, so that a daemon that crashes
//     during Create can still find the shim).
//  3. runc create, with pipes for stdin (if asked), stdout and stderr, or
//     with --console-socket to receive the terminal's master.
//  4. Start serving: log writer, output pumps, the socket; then report
//     readiness on fd 3 ("pid=<init pid>", or "error=<runc's message>" and
//     exit 1 when runc create failed) and close it.
//  5. Wait for init's exit (SIGCHLD, wait4 on any child).
//  6. Drain: output that is still in the pipes is read (for at most 2 s
//     more, in case processes outside the container's pid namespace hold
//     the pipes) and the log is written out.
//  7. Write the exit file (atomically, durably).
//  8. Send the Exit frame to attached clients, close the socket, exit 0.
//
// So an exit file means: the container is gone, and its log is complete (in
// the file, for any reader; the log is not fsynced, the exit file is). A
// shim that is gone without an exit file was killed or crashed.
//
// # State directory
//
// One directory per container, given by the daemon, written by the shim:
//
//	shim.pid      identity of the shim: pid, start time (clock ticks after
//	              boot, /proc/<pid>/stat field 22), boot id. A pid alone is
//	              reused; these three name one process. Written atomically
//	              (not durably: after a power cut no shim is left anyway).
//	shim.sock     the shim's unix socket (see Protocol). Removed at exit.
//	shim.log      the shim's own diagnostics (and a panic, if one happens).
//	init.pid      the container's init pid, written by runc create.
//	runc.log      runc create's log (JSON lines); the error text comes from it.
//	console.sock  transient: where runc hands over the terminal (with -tty).
//	exit          the exit record (see Exit file). Its presence is final.
//
// Paths to sockets may exceed the 107 bytes of a sockaddr_un (deep roots,
// 64-digit ids); then they are reached through /proc/self/fd/<dirfd>/name.
//
// # Records
//
// Every file and control message is a record: lines of "key=value", the
// value Go-quoted when it is not plain printable ASCII. Readers ignore
// unknown keys (records gain fields, never change their meaning).
//
// # Exit file
//
//	pid=12345               the container's init
//	status=137              exit code, or 128+signal when a signal ended it
//	signal=9                the signal, 0 when it exited by itself
//	exited_at=1700000000123456789   Unix nanoseconds, when the shim reaped it
//
// Written to .exit.tmp, fsynced, renamed to exit, then the directory is
// fsynced: after a crash there is either no exit file or a complete one.
//
// # Protocol
//
// The socket speaks frames: one kind byte, a big-endian uint32 payload
// length (at most MaxFramePayload, 64 KiB), the payload. A connection starts
// with one request frame from the client:
//
//	s  status       -> k (OK) with a Status record; the shim closes
//	r  reopen-log   -> k, or x (error) with the message; the shim closes
//	a  attach       payload: AttachRequest record (stdin=1 stdout=1 stderr=0)
//	                -> k, then a stream:
//	     client -> shim:  i stdin bytes   c end of this client's stdin
//	                      w resize (TermSize record: width, height)
//	     shim -> client:  o stdout bytes  e stderr bytes
//	                      d missed-output count (decimal bytes)
//	                      X the Exit record; the shim then closes
//
// Attach streams output from the moment of attaching (earlier output is in
// the log). Several clients may attach at once; each gets all output of the
// streams it asked for. Every client that attached stdin may write to it,
// frame by frame. With stdin_once, the container's stdin is closed when the
// first client that attached stdin ends it (a c frame, or by disconnecting);
// otherwise it stays open for the next attach. On a terminal, "closing"
// stdin sends the end-of-file character (^D), since a terminal has no
// separate input to close. A client that comes after the exit gets k and X
// at once.
//
// # Output
//
// Output goes to the CRI log and to the attached clients through spools:
// bounded queues (64 KiB) between the pump reading a pipe and the goroutine
// writing to the file or the client's connection. While a consumer makes
// progress, a full spool makes the pump wait, so the container is slowed
// down exactly as a pipe would slow it; nothing is lost. A consumer stuck
// for a second (a hung disk, a client that stopped reading) is declared
// stalled and its output is dropped and counted (Status.LogDropped,
// Status.AttachDropped, d frames) until it catches up: the container never
// waits longer than that for a log or a client. A log path that cannot be
// opened drops everything until a reopen succeeds.
//
// The log format is the kubelet's (see CRILog): "<RFC 3339 time with 9
// fraction digits> <stdout|stderr> <P|F> <message>\n", lines longer than 16
// KiB cut into P entries of exactly 16 KiB ending with an F entry. With a
// terminal everything is stdout and the '\r' of "\r\n" line ends is dropped.
// The file is opened O_APPEND|O_CREAT, mode 0640, and reopened on request
// (the kubelet renames it, then asks): once the reopen answers, a file is at
// the path and every later entry goes to it.
//
// # Size
//
// One shim runs per container, so its resident memory matters more than
// its speed. The binary links only the standard library and
// golang.org/x/sys, and not log/slog (Logger is the interface the shim logs
// through; TextLogger writes slog's text format): the pages of a package's
// code count in every shim's RSS. It runs with GOMAXPROCS=1 and a low GOGC,
// its spools are allocated once at their full size so that a busy shim
// makes no garbage, and the create phase's garbage is returned to the
// kernel once the container runs. Measured with BenchmarkShimMemory in
// runtime/runc: about 3.4 MiB VmRSS idle (1.1 MiB of it anonymous), 3.7 MiB
// after 20 MB of output with a client attached; the rest is the binary's
// own pages, shared by all shims of a node, so with ten shims running each
// one's Pss is about 1.4 MiB. Build it with CGO_ENABLED=0: a cgo build
// links libc's resolver for nothing.
package shim
