package rig

import "errors"

var (
	// ErrDaemonExited: logbookd exited while the rig waited for it to
	// answer (a start that failed; its log says why).
	ErrDaemonExited = errors.New("logbookd exited")
	// ErrNotReady: something the rig waits for (the registry, the
	// daemon's socket) did not come within its deadline.
	ErrNotReady = errors.New("not ready in time")
	// ErrRunning: Start was called while a daemon of this world runs.
	ErrRunning = errors.New("a daemon is already running")
	// ErrNotRunning: an operation needs the daemon and none runs.
	ErrNotRunning = errors.New("no daemon is running")
)
