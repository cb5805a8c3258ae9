package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerStats reads a container's cgroup statistics.
func (s *RuntimeService) ContainerStats(ctx context.Context, req *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
	); err != nil {
		return nil, err
	}
	if s.deps.Stats == nil {
		return nil, notImplemented("ContainerStats")
	}
	st, err := s.deps.Stats.ContainerStats(ctx, req.GetContainerId())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ContainerStatsResponse{Stats: st}, nil
}
