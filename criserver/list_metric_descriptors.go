package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListMetricDescriptors describes the metrics ListPodSandboxMetrics returns.
func (s *RuntimeService) ListMetricDescriptors(ctx context.Context, req *runtimeapi.ListMetricDescriptorsRequest) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	if s.deps.Stats == nil {
		return nil, notImplemented("ListMetricDescriptors")
	}
	return &runtimeapi.ListMetricDescriptorsResponse{Descriptors: s.deps.Stats.MetricDescriptors()}, nil
}
