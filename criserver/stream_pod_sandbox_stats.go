package criserver

import (
	"google.golang.org/grpc"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StreamPodSandboxStats is ListPodSandboxStats delivered as a stream of pages.
func (s *RuntimeService) StreamPodSandboxStats(req *runtimeapi.StreamPodSandboxStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxStatsResponse]) error {
	if s.deps.Stats == nil {
		return notImplemented("StreamPodSandboxStats")
	}
	st, err := s.deps.Stats.ListPodSandboxStats(stream.Context(), req.GetFilter())
	if err != nil {
		return err
	}
	return sendPages(st, statsPerMessage, func(page []*runtimeapi.PodSandboxStats) error {
		return stream.Send(&runtimeapi.StreamPodSandboxStatsResponse{PodSandboxStats: page})
	})
}
