package criserver

import (
	"google.golang.org/grpc"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StreamPodSandboxMetrics is ListPodSandboxMetrics delivered as a stream of pages.
func (s *RuntimeService) StreamPodSandboxMetrics(req *runtimeapi.StreamPodSandboxMetricsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxMetricsResponse]) error {
	if s.deps.Stats == nil {
		return notImplemented("StreamPodSandboxMetrics")
	}
	m, err := s.deps.Stats.PodSandboxMetrics(stream.Context())
	if err != nil {
		return err
	}
	return sendPages(m, statsPerMessage, func(page []*runtimeapi.PodSandboxMetrics) error {
		return stream.Send(&runtimeapi.StreamPodSandboxMetricsResponse{PodSandboxMetrics: page})
	})
}
