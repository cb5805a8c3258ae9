package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StartContainer starts a created container.
func (s *RuntimeService) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
	); err != nil {
		return nil, err
	}
	return nil, notImplemented("StartContainer")
}
