package images

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/logbook-cri/logbook/image"
)

// Pull is PullImage: it pulls ref from its registry (through the
// configured mirrors; always resolving the reference there, so a tag that
// moved is followed and the caller's deadline always applies), then
// journals the image and its names in one append, and returns the image
// ID, the config digest. Errors wrap the classes of package image, or the
// context's and the journal's errors.
func (s *Service) Pull(ctx context.Context, ref string, auth *image.Auth) (string, error) {
	start := time.Now()
	p, err := s.cfg.Store.Pull(ctx, ref, auth)
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", ref, err)
	}
	// The pull's lease keeps its content from GC until the image is in the
	// journal (or the attempt failed and it is garbage).
	defer p.Release()
	n, err := s.record(ctx, p)
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", ref, err)
	}
	s.log.Info("image pulled", "ref", p.Name, "id", p.ID, "digest", p.ManifestDigest,
		"size", p.Size, "events", n, "took", time.Since(start).Round(time.Millisecond))
	return p.ID, nil
}

// PullImage pulls ref anonymously: the pod-sandbox-image when a sandbox
// needs it and it is absent.
func (s *Service) PullImage(ctx context.Context, ref string) (string, error) {
	return s.Pull(ctx, ref, nil)
}

// record journals a pull under the locks of its image, its names and the
// images its names are taken from. The owners are read before locking (to
// know what to lock) and again after; if they changed meanwhile, another
// pull moved a name, and the attempt starts over with the new owners. It
// returns how many events it appended.
func (s *Service) record(ctx context.Context, p *image.Pulled) (int, error) {
	names := namesOf(p)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		owners := s.owners(names)
		unlock, err := s.lockAll(ctx, pullKeys(p.ID, names, owners))
		if err != nil {
			return 0, err
		}
		if now := s.owners(names); !maps.Equal(owners, now) {
			unlock()
			continue
		}
		cur, _ := s.imageByID(p.ID)
		evs := planPull(p, cur, names, owners)
		if len(evs) > 0 {
			_, err = s.cfg.Recorder.Record(ctx, evs...)
		}
		unlock()
		return len(evs), err
	}
}

// owners maps each name that points at an image to that image's ID.
func (s *Service) owners(names []string) map[string]string {
	out := make(map[string]string, len(names))
	for _, n := range names {
		if img, ok := s.cfg.Projection.Image(n); ok && containsName(img, n) {
			out[n] = img.ID
		}
	}
	return out
}

// lockAll takes keys exclusively in the order given and returns one
// function releasing them all.
func (s *Service) lockAll(ctx context.Context, keys []string) (func(), error) {
	var held []func()
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i]()
		}
	}
	for _, k := range keys {
		unlock, err := s.locks.Lock(ctx, k)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, unlock)
	}
	return release, nil
}
