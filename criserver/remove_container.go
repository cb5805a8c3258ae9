package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemoveContainer removes a container, stopping it first if it runs; removing an unknown container succeeds.
func (s *RuntimeService) RemoveContainer(ctx context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
	); err != nil {
		return nil, err
	}
	return nil, notImplemented("RemoveContainer")
}
