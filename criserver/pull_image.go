package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PullImage pulls an image (through the configured mirrors) and returns its ID, the config digest.
func (s *ImageService) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	if err := require(
		present("image", req.GetImage() != nil),
		id("image.image", req.GetImage().GetImage()),
	); err != nil {
		return nil, err
	}
	return nil, notImplemented("PullImage")
}
