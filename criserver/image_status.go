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
	return nil, notImplemented("ImageStatus")
}
