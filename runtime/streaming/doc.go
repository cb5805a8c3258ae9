// Package streaming is the runtime side of exec, attach and port-forward:
// ExecSync, and the Exec, Attach and PortForward sessions the streaming
// server (criserver/streamserver) runs once a client has opened the URL it
// was given. It reads the projection to decide (a container must be
// running, a sandbox ready; NotFound and FailedPrecondition otherwise) and
// touches the node through runc and the shims only. Nothing here is
// journaled: an exec changes no container's lifecycle.
//
// # An exec is the container's own process, with other arguments
//
// An exec runs with runc exec (runtime/runc.Exec, ExecTTY), and its
// process description is the one the container was created with, read
// from the bundle's config.json, with the request's command as arguments:
// the same user and groups, environment, working directory, capabilities,
// no_new_privs, AppArmor profile, SELinux label and rlimits, so an exec
// can do no more than the container itself. Only the terminal differs: an
// exec has one when its client asks, sized by the client. Execs are the
// daemon's children (through runc) and end with it; containers do not.
//
// # ExecSync: timeout and output budget
//
// A timeout above zero is enforced here, not left to the client (whose
// own deadline is minutes long): at the deadline runc.Exec's cancellation
// stops the process and everything it started, then kills them, and the
// error wraps ErrTimeout and context.DeadlineExceeded (DeadlineExceeded
// at the edge).
//
// The output must fit the response the kubelet accepts: its gRPC receive
// limit is 16 MiB for the whole message. The budget is that limit less a
// 64 KiB margin (the message's own framing is 21 bytes at most), shared
// by stdout and stderr with max-min fairness over prefixes (budget.go):
// each stream is guaranteed half; a stream that writes less leaves the
// rest to the other; when the budget is full, a stream still below its
// half takes bytes back from the end of the other. So a command that
// writes 1 GiB of stdout and a line of stderr gets the line and all but
// it of the budget; two floods get half each; and the response always
// fits, where a cap of 16 MiB per stream (containerd's) can make it 32 MiB
// and fail the call. Writes past the budget are read and dropped: the
// process is never blocked on a full pipe, and the daemon holds at most
// the budget per ExecSync (in 64 KiB chunks, released as they are given
// back), however much is written. A cut is logged with what each stream
// wrote and kept, and counted per stream (Metrics).
//
// # Exec and Attach
//
// Exec runs a process with the client's streams: on pipes, or with TTY on
// a pseudo-terminal whose size follows the client's resizes. Its stdin is
// a pipe this package feeds from the client, so a client that never
// closes its stdin does not hold the exec open once the process has
// ended. Attach goes through the container's shim socket, never through
// the daemon's memory: the shim holds the container's stdio for its whole
// life, so a container started before a daemon restart is attached as
// well as a new one.
//
// # PortForward: entering the pod's network namespace
//
// A socket belongs, for life, to the network namespace of the thread that
// creates it. PortForward therefore dials from a goroutine locked to its
// OS thread that enters the pod's namespace (setns on the bind mount the
// sandbox keeps), connects to 127.0.0.1:port (or ::1), and returns to the
// thread's own namespace; a thread that could not return stays locked and
// dies with its goroutine, so no other code ever runs in the pod's
// namespace. The connection then works from any thread. A pod on the host
// network is dialled on the host. No helper process (socat, nsenter) is
// involved. Bytes are copied both ways; the end of the client's stream
// half-closes the connection, so the server in the pod sees end-of-file
// and may still answer.
//
// # Goroutines
//
// The copies of a session's input (an exec's stdin, a port-forward's
// client side) may outlive the call: a read blocked in the client's
// stream cannot be interrupted, and ends only when that stream does. The
// service owns them: Close ends every session still running (processes
// killed, connections closed) and waits for them, which returns once the
// streaming server has closed its connections (the daemon closes the
// server first).
package streaming
