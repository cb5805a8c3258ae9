package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ExecSync runs a command in a container and returns its output, each stream capped at 16 MiB.
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
	return nil, notImplemented("ExecSync")
}
