package criserver

import (
	"context"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ExecSync runs a command in a container and returns its output, each stream capped at 16 MiB.
// Output past the cap is dropped without blocking the process, and a line
// at the end of stderr says how much. The request's timeout is enforced
// here: when it passes the process is killed and the answer is
// DeadlineExceeded, which kubelets read as a probe timeout.
func (s *RuntimeService) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
		present("cmd", len(req.GetCmd()) > 0),
	); err != nil {
		return nil, err
	}
	if req.GetTimeout() < 0 {
		return nil, invalidField("timeout", "%d is negative", req.GetTimeout())
	}
	if s.deps.Containers == nil {
		return nil, notImplemented("ExecSync")
	}
	res, err := s.deps.Containers.ExecSync(ctx, req.GetContainerId(), req.GetCmd(), time.Duration(req.GetTimeout())*time.Second)
	if err != nil {
		return nil, err
	}
	stderr := res.Stderr
	if res.StdoutDropped > 0 || res.StderrDropped > 0 {
		stderr = append(stderr, fmt.Sprintf("\n[logbook: output over the 16 MiB cap was dropped: %d bytes of stdout, %d bytes of stderr]\n",
			res.StdoutDropped, res.StderrDropped)...)
	}
	return &runtimeapi.ExecSyncResponse{Stdout: res.Stdout, Stderr: stderr, ExitCode: res.ExitCode}, nil
}
