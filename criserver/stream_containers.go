package criserver

import (
	"google.golang.org/grpc"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containersPerMessage bounds one StreamContainers message.
const containersPerMessage = 256

// StreamContainers is ListContainers delivered as a stream of pages: the
// same list, read from one projection. An empty list is a stream with no
// message.
func (s *RuntimeService) StreamContainers(req *runtimeapi.StreamContainersRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainersResponse]) error {
	if s.deps.Containers == nil {
		return notImplemented("StreamContainers")
	}
	items := s.criContainerList(req.GetFilter())
	for len(items) > 0 {
		n := min(len(items), containersPerMessage)
		if err := stream.Send(&runtimeapi.StreamContainersResponse{Containers: items[:n]}); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}
