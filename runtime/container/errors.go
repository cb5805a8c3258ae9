package container

import "errors"

// Errors of the container aggregate. Each is wrapped together with one of
// runtime's sentinels, which criserver maps to a gRPC code.
var (
	// ErrLogPathEscape: the container's log_path, joined with the pod's
	// log_directory, leaves that directory (InvalidArgument).
	ErrLogPathEscape = errors.New("log path escapes the pod's log directory")
	// ErrPropagation: a mount asks for propagation its host source cannot
	// give: BIDIRECTIONAL needs a shared mount, HOST_TO_CONTAINER a shared
	// or slave one (FailedPrecondition).
	ErrPropagation = errors.New("mount propagation not possible from this host path")
	// ErrMountChanged: a mount's host path named another file when runc
	// mounted it than when CreateContainer checked it (a component was
	// swapped, e.g. for a symlink, in between); the creation is rolled
	// back (FailedPrecondition).
	ErrMountChanged = errors.New("mount host path changed between the check and the mount")
	// ErrWrongState: the container is not in a state the operation accepts
	// (start of a running container, reopen of a stopped one's log)
	// (FailedPrecondition).
	ErrWrongState = errors.New("container is in the wrong state")
	// ErrNotStopped: the container did not exit within the bound after
	// SIGKILL (the process is stuck in the kernel); a later stop retries.
	ErrNotStopped = errors.New("container did not exit")
)
