package sandbox

import "errors"

// Errors of the sandbox aggregate. Each is also one of runtime's sentinels
// (wrapped), which is what criserver maps to a gRPC code.
var (
	// ErrUnknownHandler: RunPodSandbox named a runtime handler logbook
	// does not have (it has the default "" and "runc"). It matches
	// runtime.ErrNotFound, as containerd answers.
	ErrUnknownHandler = errors.New("no such runtime handler")
	// ErrNotReady: the sandbox is not Ready (UpdatePodSandboxResources of a
	// stopped pod). It matches runtime.ErrFailedPrecondition.
	ErrNotReady = errors.New("sandbox is not ready")
	// ErrInfraStuck: the infra process did not exit after SIGKILL within
	// the bound; the sandbox stays Ready and the stop may be retried.
	ErrInfraStuck = errors.New("infra process did not exit")
)
