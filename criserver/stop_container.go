package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StopContainer stops a container: its stop signal, then SIGKILL after the timeout (at once for 0); an unknown or exited container is success.
func (s *RuntimeService) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
	); err != nil {
		return nil, err
	}
	if req.GetTimeout() < 0 {
		return nil, invalidField("timeout", "%d is negative", req.GetTimeout())
	}
	if s.deps.Containers == nil {
		return nil, notImplemented("StopContainer")
	}
	if err := s.deps.Containers.StopContainer(ctx, req.GetContainerId(), req.GetTimeout()); err != nil {
		return nil, err
	}
	return &runtimeapi.StopContainerResponse{}, nil
}
