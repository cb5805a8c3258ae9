package container

import (
	"syscall"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime/oci"
)

// Exit reasons, as containerd reports them (and kubelets display).
const (
	ReasonCompleted  = "Completed"
	ReasonError      = "Error"
	ReasonOOMKilled  = "OOMKilled"
	ReasonStartError = "StartError"
	ReasonUnknown    = "Unknown"
)

// StartErrorCode is the exit code of a container whose start failed.
const StartErrorCode = 128

// UnknownExitCode is the exit code of a container whose end nobody
// recorded (the node restarted, or its shim was killed).
const UnknownExitCode = 255

// ExitReason is the reason container.exited records: OOMKilled when the
// OOM killer ended something in the container's cgroup, else the given
// reason when there is one, else Completed for 0 and Error otherwise.
func ExitReason(code int32, oomKilled bool, given string) string {
	switch {
	case oomKilled:
		return ReasonOOMKilled
	case given != "":
		return given
	case code == 0:
		return ReasonCompleted
	}
	return ReasonError
}

// signalEnum names a signal in the CRI's Signal enum; RUNTIME_DEFAULT for
// a signal it does not list.
func signalEnum(sig syscall.Signal) runtimeapi.Signal {
	for v := range runtimeapi.Signal_name {
		if v == 0 {
			continue
		}
		if s, err := oci.StopSignal(runtimeapi.Signal(v), ""); err == nil && s == sig {
			return runtimeapi.Signal(v)
		}
	}
	return runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT
}
