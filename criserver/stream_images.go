package criserver

import (
	"google.golang.org/grpc"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// imagesPerMessage bounds one StreamImages message: a CRI image is a few
// hundred bytes, so a page stays far below the 16 MiB message limit
// whatever its names and annotations.
const imagesPerMessage = 256

// StreamImages is ListImages delivered as a stream of pages: the same list,
// read from one projection, in messages of at most imagesPerMessage images.
// An empty list is a stream with no message.
func (s *ImageService) StreamImages(req *runtimeapi.StreamImagesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamImagesResponse]) error {
	if s.deps.Images == nil {
		return notImplemented("StreamImages")
	}
	imgs := s.criImageList(req.GetFilter())
	for len(imgs) > 0 {
		n := min(len(imgs), imagesPerMessage)
		if err := stream.Send(&runtimeapi.StreamImagesResponse{Images: imgs[:n]}); err != nil {
			return err
		}
		imgs = imgs[n:]
	}
	return nil
}
