package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerStatus reports a container as the projection of the journal has it.
func (s *RuntimeService) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
	); err != nil {
		return nil, err
	}
	return nil, notImplemented("ContainerStatus")
}
