package streaming

import "errors"

// Errors of exec, attach and port-forward. Each is wrapped together with
// the runtime sentinel (or context error) that criserver maps to a gRPC
// code, named beside it.
var (
	// ErrTimeout: ExecSync's command ran past the request's timeout and
	// was killed, with every process it started. Wrapped with
	// context.DeadlineExceeded (DeadlineExceeded).
	ErrTimeout = errors.New("command timed out")
	// ErrEmptyCommand: an exec without a command (InvalidArgument).
	ErrEmptyCommand = errors.New("empty command")
	// ErrNotRunning: exec or attach into a container that is not running
	// (created, or exited) (FailedPrecondition).
	ErrNotRunning = errors.New("container is not running")
	// ErrNotReady: a port-forward into a pod sandbox that is not ready
	// (FailedPrecondition).
	ErrNotReady = errors.New("pod sandbox is not ready")
	// ErrNoNetNS: a ready pod that is not on the host network yet has no
	// network namespace (FailedPrecondition; a logbook bug).
	ErrNoNetNS = errors.New("pod sandbox has no network namespace")
	// ErrBadPort: a port-forward to a port outside 1-65535
	// (InvalidArgument).
	ErrBadPort = errors.New("invalid port")
	// ErrClosed: the service is shut down (Unavailable).
	ErrClosed = errors.New("exec service closed")
	// ErrNoProcess: the container's OCI spec, whose process an exec
	// inherits, is missing or unreadable (FailedPrecondition: the
	// container is going away).
	ErrNoProcess = errors.New("container's process spec unavailable")
)
