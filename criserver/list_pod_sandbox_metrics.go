package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListPodSandboxMetrics returns the cAdvisor-style metrics of every sandbox.
func (s *RuntimeService) ListPodSandboxMetrics(ctx context.Context, req *runtimeapi.ListPodSandboxMetricsRequest) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	if s.deps.Stats == nil {
		return nil, notImplemented("ListPodSandboxMetrics")
	}
	m, err := s.deps.Stats.PodSandboxMetrics(ctx)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ListPodSandboxMetricsResponse{PodMetrics: m}, nil
}
