package images

import (
	"context"

	"github.com/logbook-cri/logbook/image"
)

// Collect garbage-collects the image store: it removes every blob and
// snapshot that no image of the projection, no container and no pull or
// container creation in progress keeps. What to keep is read from the
// projection at the moment the store decides (image.Store.GCWith), so an
// image or container journalled just before its lease is released is
// never missed.
func (s *Service) Collect(ctx context.Context) (image.GCResult, error) {
	return s.cfg.Store.GCWith(ctx, s.refs)
}

// refs reads what to keep from the projection. Containers in Creating are
// included: their creation may have released its hold on the image's
// snapshots already.
func (s *Service) refs() image.Refs {
	ctrs := s.cfg.Projection.ListContainers(nil)
	_, creating := s.cfg.Projection.Creating()
	return keepRefs(s.cfg.Projection.ListImages(nil), append(ctrs, creating...))
}
