package images

import (
	"context"
	"fmt"

	"github.com/logbook-cri/logbook/image"
)

// Damage is an image of the journal whose content is not all on disk.
type Damage struct {
	ID    string
	Names []string
	// Missing is what the store lacks; Err is set when the store could not
	// even tell (a stored manifest that no longer parses).
	Missing image.Missing
	Err     error
}

// Reconcile is the start-up check of the journal's images against the
// store, run once the projection is rebuilt and before the daemon serves.
// Every image is checked: one whose manifest, config, layers or snapshots
// are missing is logged and returned, and stays listed (verbose
// ImageStatus reports it; a pull of it fetches what is missing). The
// journal is not changed: which images exist is the journal's to say, and
// only the user removes them. Then a collection removes what no image or
// container keeps, such as the content of a pull that completed on disk
// but crashed before it was journalled. Reconcile fails only when that
// collection does.
func (s *Service) Reconcile(ctx context.Context) ([]Damage, error) {
	var damaged []Damage
	imgs := s.cfg.Projection.ListImages(nil)
	for _, img := range imgs {
		m, err := s.cfg.Store.Check(img.ManifestDigest, img.ChainIDs)
		if err == nil && m.Complete() {
			continue
		}
		d := Damage{ID: img.ID, Names: img.Names, Missing: m, Err: err}
		damaged = append(damaged, d)
		s.log.Error("image content missing on disk: reported, not hidden; pull it again to repair",
			"id", img.ID, "names", img.Names, "missing_blobs", m.Blobs, "missing_snapshots", m.Snapshots, "err", err)
	}
	res, err := s.Collect(ctx)
	if err != nil {
		return damaged, fmt.Errorf("images: collection at start: %w", err)
	}
	s.log.Info("images reconciled", "images", len(imgs), "damaged", len(damaged),
		"blobs_removed", res.BlobsRemoved, "snapshots_removed", res.SnapshotsRemoved, "bytes_freed", res.BytesFreed)
	return damaged, nil
}
