package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/image"
)

// PullImage pulls an image (through the configured mirrors) and returns its
// ID, the config digest: the value Image.id and the containers' image_id
// report too.
func (s *ImageService) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	if err := require(
		present("image", req.GetImage() != nil),
		id("image.image", req.GetImage().GetImage()),
	); err != nil {
		return nil, err
	}
	if s.deps.Images == nil {
		return nil, notImplemented("PullImage")
	}
	ref, err := s.deps.Images.Pull(ctx, req.GetImage().GetImage(), imageAuth(req.GetAuth()))
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PullImageResponse{ImageRef: ref}, nil
}

// imageAuth carries the request's credentials over; server_address is the
// kubelet's note of which registry they are for, which the reference
// already names.
func imageAuth(a *runtimeapi.AuthConfig) *image.Auth {
	if a == nil {
		return nil
	}
	return &image.Auth{
		Username:      a.GetUsername(),
		Password:      a.GetPassword(),
		Auth:          a.GetAuth(),
		IdentityToken: a.GetIdentityToken(),
		RegistryToken: a.GetRegistryToken(),
	}
}
