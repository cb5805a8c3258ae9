package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImageStatus reports an image by name, ID or digest; an unknown image is an empty answer, not an error.
func (s *ImageService) ImageStatus(ctx context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	if err := require(
		present("image", req.GetImage() != nil),
		id("image.image", req.GetImage().GetImage()),
	); err != nil {
		return nil, err
	}
	if s.deps.Images == nil {
		return nil, notImplemented("ImageStatus")
	}
	img, ok := s.deps.Projection.Image(req.GetImage().GetImage())
	if !ok {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	resp := &runtimeapi.ImageStatusResponse{Image: img.CRI()}
	resp.Image.Pinned = s.deps.Images.Pinned(img)
	if req.GetVerbose() {
		resp.Info = s.deps.Images.Info(img)
	}
	return resp, nil
}
