package images

import (
	"encoding/json"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/projector"
)

// ImageStatus and ListImages read the projection; the aggregate adds the
// two things the journal does not say: whether an image is pinned (it is
// the configured pod-sandbox-image, which a kubelet's image GC must never
// remove), and, for a verbose status, what the store has of it.

// Pinned reports whether img is the configured pod-sandbox-image.
func (s *Service) Pinned(img *projector.Image) bool {
	return pinnedBy(img, s.pinned)
}

// statusInfo is the verbose ImageStatus info, served as JSON under "info".
type statusInfo struct {
	ID             string   `json:"id"`
	ManifestDigest string   `json:"manifestDigest"`
	Names          []string `json:"names"`
	ChainIDs       []string `json:"chainIDs"`
	Size           uint64   `json:"size"`
	Pinned         bool     `json:"pinned"`
	// ImageSpec is the image config (OCI JSON) as stored.
	ImageSpec json.RawMessage `json:"imageSpec,omitempty"`
	// Missing lists what of the image is not on disk: set only when
	// something is, with a note saying what that means.
	Missing *missingInfo `json:"missing,omitempty"`
}

type missingInfo struct {
	Note      string   `json:"note"`
	Blobs     []string `json:"blobs,omitempty"`
	Snapshots []string `json:"snapshots,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// missingNote explains a missing-content report to an operator.
const missingNote = "content of this image is missing on disk; containers cannot be created from it until it is pulled again"

// Info is the verbose part of ImageStatus: the image's identity, its
// config, and what the store lacks of it, checked now (a blob or snapshot
// missing on disk is reported, never hidden).
func (s *Service) Info(img *projector.Image) map[string]string {
	m, err := s.cfg.Store.Check(img.ManifestDigest, img.ChainIDs)
	return infoOf(img, s.Pinned(img), m, err)
}

// infoOf builds the verbose info (pure).
func infoOf(img *projector.Image, pinned bool, m image.Missing, checkErr error) map[string]string {
	info := statusInfo{
		ID:             img.ID,
		ManifestDigest: img.ManifestDigest,
		Names:          img.Names,
		ChainIDs:       img.ChainIDs,
		Size:           img.Size,
		Pinned:         pinned,
	}
	if json.Valid(img.Config) {
		info.ImageSpec = img.Config
	}
	if !m.Complete() || checkErr != nil {
		info.Missing = &missingInfo{Note: missingNote, Blobs: m.Blobs, Snapshots: m.Snapshots}
		if checkErr != nil {
			info.Missing.Error = checkErr.Error()
		}
	}
	b, err := json.Marshal(info)
	if err != nil {
		// Strings, slices and valid raw JSON: this cannot fail.
		return map[string]string{"info": `{"error":` + jsonString(err.Error()) + `}`}
	}
	return map[string]string{"info": string(b)}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
