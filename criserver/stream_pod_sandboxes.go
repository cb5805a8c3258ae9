package criserver

import (
	"google.golang.org/grpc"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandboxesPerMessage bounds one StreamPodSandboxes message, far below the
// message limit whatever the labels and annotations.
const sandboxesPerMessage = 256

// StreamPodSandboxes is ListPodSandbox delivered as a stream of pages: the
// same list, read from one projection. An empty list is a stream with no
// message.
func (s *RuntimeService) StreamPodSandboxes(req *runtimeapi.StreamPodSandboxesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxesResponse]) error {
	if s.deps.Sandboxes == nil {
		return notImplemented("StreamPodSandboxes")
	}
	items := s.criSandboxList(req.GetFilter())
	for len(items) > 0 {
		n := min(len(items), sandboxesPerMessage)
		if err := stream.Send(&runtimeapi.StreamPodSandboxesResponse{PodSandboxes: items[:n]}); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}
