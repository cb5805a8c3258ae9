package criserver

import (
	"context"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// OutputCutHeader is the response header of an ExecSync whose output went
// past the budget: "stdout=<kept>/<written>,stderr=<kept>/<written>" in
// bytes. The output itself is left as the command wrote it (a prefix of
// each stream); the cut is also logged and counted by the runtime.
const OutputCutHeader = "logbook-exec-output-cut"

// ExecSync runs a command in a running container and returns its output
// and exit code. The request's timeout (seconds; 0 is none) is enforced by
// the runtime: past it the process and its children are killed and the
// answer is DeadlineExceeded. The output of both streams together is held
// under the kubelet's 16 MiB response limit, shared fairly between them
// (see runtime/streaming).
func (s *RuntimeService) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
		present("cmd", len(req.GetCmd()) > 0),
	); err != nil {
		return nil, err
	}
	if err := argv("cmd", req.GetCmd()); err != nil {
		return nil, err
	}
	if req.GetTimeout() < 0 {
		return nil, invalidField("timeout", "%d is negative", req.GetTimeout())
	}
	if s.deps.Exec == nil {
		return nil, notImplemented("ExecSync")
	}
	// A timeout past what a Duration holds (292 years) is none at all.
	var timeout time.Duration
	if t := req.GetTimeout(); t <= int64(math.MaxInt64/time.Second) {
		timeout = time.Duration(t) * time.Second
	}
	res, err := s.deps.Exec.ExecSync(ctx, req.GetContainerId(), req.GetCmd(), timeout)
	if err != nil {
		return nil, err
	}
	if res.Cut {
		// Outside a gRPC call (tests) there is no header to set.
		_ = grpc.SetHeader(ctx, metadata.Pairs(OutputCutHeader, fmt.Sprintf("stdout=%d/%d,stderr=%d/%d",
			res.Usage[0].Kept, res.Usage[0].Written, res.Usage[1].Kept, res.Usage[1].Written)))
	}
	return &runtimeapi.ExecSyncResponse{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}, nil
}
