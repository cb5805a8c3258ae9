package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemoveImage removes an image and all its tags; removing an unknown image succeeds.
func (s *ImageService) RemoveImage(ctx context.Context, req *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	if err := require(
		present("image", req.GetImage() != nil),
		id("image.image", req.GetImage().GetImage()),
	); err != nil {
		return nil, err
	}
	if s.deps.Images == nil {
		return nil, notImplemented("RemoveImage")
	}
	if err := s.deps.Images.Remove(ctx, req.GetImage().GetImage()); err != nil {
		return nil, err
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}
