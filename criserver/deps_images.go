package criserver

import (
	"context"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime/images"
)

// Images is the image aggregate (runtime/images.Service): what the
// ImageService changes, and what the journal's projection cannot say of
// an image. Statuses and lists themselves are read from Projection. Nil
// means the image service is not wired: every image method answers
// Unimplemented.
type Images interface {
	// Pull pulls and journals an image and returns its ID (the config
	// digest).
	Pull(ctx context.Context, ref string, auth *image.Auth) (imageID string, err error)
	// Remove removes the image ref names, with all its names; an absent
	// image is success.
	Remove(ctx context.Context, ref string) error
	// Pinned reports whether the image is the configured
	// pod-sandbox-image.
	Pinned(img *projector.Image) bool
	// Info is a verbose ImageStatus' info: JSON values by key.
	Info(img *projector.Image) map[string]string
	// FsInfo measures the image store and the containers' writable layers.
	FsInfo(ctx context.Context) (images, containers images.FsUsage, err error)
}

var _ Images = (*images.Service)(nil)
