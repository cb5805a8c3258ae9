package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodSandboxStats reads a sandbox's cgroup and network statistics.
func (s *RuntimeService) PodSandboxStats(ctx context.Context, req *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	if err := require(
		id("pod_sandbox_id", req.GetPodSandboxId()),
	); err != nil {
		return nil, err
	}
	if s.deps.Stats == nil {
		return nil, notImplemented("PodSandboxStats")
	}
	st, err := s.deps.Stats.PodSandboxStats(ctx, req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: st}, nil
}
