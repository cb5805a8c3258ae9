package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListImages lists the images that match the filter, from the projection.
func (s *ImageService) ListImages(ctx context.Context, req *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	if s.deps.Images == nil {
		return nil, notImplemented("ListImages")
	}
	return &runtimeapi.ListImagesResponse{Images: s.criImageList(req.GetFilter())}, nil
}

// criImageList is the projection's list in CRI form, pinned flags set.
func (s *ImageService) criImageList(f *runtimeapi.ImageFilter) []*runtimeapi.Image {
	imgs := s.deps.Projection.ListImages(f)
	out := make([]*runtimeapi.Image, len(imgs))
	for i, img := range imgs {
		out[i] = img.CRI()
		out[i].Pinned = s.deps.Images.Pinned(img)
	}
	return out
}
