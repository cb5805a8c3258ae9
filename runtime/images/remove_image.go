package images

import (
	"context"
	"fmt"
	"time"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/runtime"
)

// Remove is RemoveImage: ref (an ID, a unique ID prefix, a tag or a digest
// reference, as ImageStatus resolves them) names an image, which is
// removed with all its names, as the CRI means it. An image that is not
// there is success, so concurrent removals of one image all succeed: they
// serialise on the image's lock and all but the first find it gone. Once
// image.removed is journalled the image is gone for every reader; its
// content follows at once in a collection that keeps whatever a container
// still uses (see keepRefs). A collection that fails is logged, not
// returned: the image is removed, and the next collection retries.
func (s *Service) Remove(ctx context.Context, ref string) error {
	img, ok := s.cfg.Projection.Image(ref)
	if !ok {
		return nil
	}
	unlock, err := s.locks.Lock(ctx, imageKey(img.ID))
	if err != nil {
		return err
	}
	if _, ok := s.imageByID(img.ID); !ok {
		unlock()
		return nil
	}
	_, err = s.cfg.Recorder.Record(ctx, runtime.Event{Payload: &events.ImageRemoved{ImageId: img.ID}})
	unlock()
	if err != nil {
		return fmt.Errorf("remove image %s: %w", img.ID, err)
	}
	s.log.Info("image removed", "ref", ref, "id", img.ID, "names", img.Names)

	// The caller's cancellation does not stop the collection: the removal
	// has happened, and its space should be freed with it.
	start := time.Now()
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removalGCTimeout)
	defer cancel()
	if _, err := s.Collect(gctx); err != nil {
		s.log.Warn("collection after image removal failed; the next one retries", "id", img.ID, "err", err,
			"took", time.Since(start))
	}
	return nil
}

// removalGCTimeout bounds the collection that follows a removal.
const removalGCTimeout = 2 * time.Minute
