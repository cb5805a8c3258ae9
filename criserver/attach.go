package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Attach prepares a streaming attach session to a running container's stdio
// (through its shim) and returns its single-use URL.
func (s *RuntimeService) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
		present("stdin, stdout or stderr", req.GetStdin() || req.GetStdout() || req.GetStderr()),
	); err != nil {
		return nil, err
	}
	if req.GetTty() && req.GetStderr() {
		return nil, invalidField("stderr", "a tty has no separate stderr")
	}
	if s.deps.Streams == nil {
		return nil, notImplemented("Attach")
	}
	return s.deps.Streams.Attach(ctx, req)
}
