package criserver

import (
	"google.golang.org/grpc"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StreamContainerStats is ListContainerStats delivered as a stream of pages.
func (s *RuntimeService) StreamContainerStats(req *runtimeapi.StreamContainerStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainerStatsResponse]) error {
	if s.deps.Stats == nil {
		return notImplemented("StreamContainerStats")
	}
	st, err := s.deps.Stats.ListContainerStats(stream.Context(), req.GetFilter())
	if err != nil {
		return err
	}
	return sendPages(st, statsPerMessage, func(page []*runtimeapi.ContainerStats) error {
		return stream.Send(&runtimeapi.StreamContainerStatsResponse{ContainerStats: page})
	})
}
