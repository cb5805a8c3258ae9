package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Exec prepares a streaming exec session in a running container and returns
// its single-use URL on the streaming server.
func (s *RuntimeService) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
		present("cmd", len(req.GetCmd()) > 0),
		present("stdin, stdout or stderr", req.GetStdin() || req.GetStdout() || req.GetStderr()),
	); err != nil {
		return nil, err
	}
	if err := argv("cmd", req.GetCmd()); err != nil {
		return nil, err
	}
	if req.GetTty() && req.GetStderr() {
		return nil, invalidField("stderr", "a tty has no separate stderr")
	}
	if s.deps.Streams == nil {
		return nil, notImplemented("Exec")
	}
	return s.deps.Streams.Exec(ctx, req)
}
