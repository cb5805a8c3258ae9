package images

import (
	"slices"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// This file holds the pure decisions of the aggregate: which names a pull
// gives, which events journal it, which locks it takes, what GC keeps.

// namesOf lists the names a pull gives its image: the reference as asked
// for (normalised) and the repository's digest name of what it resolved
// to. A pull by digest gives one name, the two being equal.
func namesOf(p *image.Pulled) []string {
	if p.Name == p.RepoDigest {
		return []string{p.Name}
	}
	return []string{p.Name, p.RepoDigest}
}

// planPull returns the events that journal a pull, in order: image.pulled
// when the image is new (cur is nil) or now resolves through another
// manifest; then, for each name not already on the image, image.untagged
// on the image that has it (owners maps a name to its image's ID) and
// image.tagged here. Nil means the journal already says all of it.
func planPull(p *image.Pulled, cur *projector.Image, names []string, owners map[string]string) []runtime.Event {
	var evs []runtime.Event
	if cur == nil || cur.ManifestDigest != p.ManifestDigest {
		evs = append(evs, runtime.Event{Payload: &events.ImagePulled{
			ImageId:        p.ID,
			ManifestDigest: p.ManifestDigest,
			Size:           uint64(max(p.Size, 0)),
			Config:         p.Config,
			ChainIds:       p.ChainIDs,
			Annotations:    p.Annotations,
		}})
	}
	for _, n := range names {
		owner := owners[n]
		if owner == p.ID {
			continue
		}
		if owner != "" {
			evs = append(evs, runtime.Event{Payload: &events.ImageUntagged{ImageId: owner, Name: n}})
		}
		evs = append(evs, runtime.Event{Payload: &events.ImageTagged{ImageId: p.ID, Name: n}})
	}
	return evs
}

// Lock keys. Image IDs and names get prefixes of their own, so they never
// meet a sandbox or container ID (64 hex digits) in a shared Locks.
func imageKey(id string) string  { return "image/" + id }
func nameKey(name string) string { return "image-name/" + name }

// pullKeys lists, sorted and without duplicates, the locks that journaling
// a pull takes: its image, each of its names, and each image a name is
// taken from. Taking them in this order, every operation in the same
// order, no two operations wait for each other in a cycle.
func pullKeys(id string, names []string, owners map[string]string) []string {
	keys := []string{imageKey(id)}
	for _, n := range names {
		keys = append(keys, nameKey(n))
		if o := owners[n]; o != "" {
			keys = append(keys, imageKey(o))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// keepRefs is what GC keeps: every image of the projection (its manifest
// or index, and its config, which leads to its layers and snapshots), and
// the image of every container, live or being created, by its ID. A
// container keeps its image's config, and through it the snapshots its
// root filesystem stacks, even after RemoveImage: its chain IDs are
// written in that config, so they need no other record.
func keepRefs(imgs []*projector.Image, ctrs []*projector.Container) image.Refs {
	var r image.Refs
	for _, img := range imgs {
		r.Blobs = append(r.Blobs, img.ManifestDigest, img.ID)
		// The chain IDs are written in the config too; naming them keeps
		// the snapshots even if the config blob itself went missing.
		r.ChainIDs = append(r.ChainIDs, img.ChainIDs...)
	}
	for _, c := range ctrs {
		if c.ImageID != "" {
			r.Blobs = append(r.Blobs, c.ImageID)
		}
	}
	return r
}

// pinnedBy reports whether img carries the normalised pod-sandbox-image
// name pinned.
func pinnedBy(img *projector.Image, pinned string) bool {
	return pinned != "" && containsName(img, pinned)
}

// containsName reports whether name is one of img's names exactly (a
// projection lookup also resolves IDs, prefixes and short names).
func containsName(img *projector.Image, name string) bool {
	_, found := slices.BinarySearch(img.Names, name)
	return found
}
