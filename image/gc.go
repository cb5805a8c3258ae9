package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Refs is what GC must keep.
type Refs struct {
	// Blobs are digests of the images to keep: top-level manifests or
	// indexes (Pulled.ManifestDigest) and configs (Pulled.ID). Everything a
	// kept blob references is kept with it: an index's manifests, a
	// manifest's config and layers, and the snapshots of a config's layers.
	Blobs []string
	// ChainIDs are further snapshots to keep: those the root filesystems of
	// containers are built on. A kept snapshot's parents are kept too.
	ChainIDs []string
}

// GCResult reports what a GC removed.
type GCResult struct {
	BlobsRemoved     int
	SnapshotsRemoved int
	BytesFreed       int64
	// InUse lists snapshots nothing in Refs or in a pull's lease kept, but
	// that an overlay mount still uses: they are never removed.
	InUse []string
}

// GC removes the blobs and snapshots that nothing keeps: not reachable from
// keep, not held by a pull in progress or an unreleased Pulled, not
// mounted. The decision and the removal from view (a rename into tmp/) are
// atomic with respect to pulls; the slow deletion happens afterwards.
func (s *Store) GC(ctx context.Context, keep Refs) (GCResult, error) {
	return s.GCWith(ctx, func() Refs { return keep })
}

// GCWith is GC with what to keep computed at the moment of the decision:
// keep is called with the leases' mutex held, so no lease is released
// while it runs. That closes the gap a precomputed Refs leaves open: an
// owner that journals an image (or a container) and then releases its
// lease either releases before keep is called, and keep (reading the
// journal's projection) sees the image, or after GC has decided, and the
// lease kept it. keep must be quick and must not call the Store.
func (s *Store) GCWith(ctx context.Context, keep func() Refs) (GCResult, error) {
	start := time.Now()
	var res GCResult
	if err := s.ctx.Err(); err != nil {
		return res, ctxError(s.ctx)
	}
	mounted, err := s.mountedSnapshots()
	if err != nil {
		return res, err
	}
	trash, err := os.MkdirTemp(s.tmpDir, "gc-")
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	defer os.RemoveAll(trash)

	s.mu.Lock()
	blobs, snaps := s.mark(keep())
	for l := range s.leases {
		for b := range l.blobs {
			blobs[b] = true
		}
		for c := range l.snaps {
			snaps[c] = true
		}
	}
	for c := range mounted {
		if !snaps[c] {
			res.InUse = append(res.InUse, c)
			snaps[c] = true
		}
	}
	s.keepParents(snaps)
	err = ctx.Err()
	if err == nil {
		res.BlobsRemoved, err = s.sweep(s.blobDir, blobs, trash, "b-")
	}
	if err == nil {
		res.SnapshotsRemoved, err = s.sweep(s.snapDir, snaps, trash, "s-")
	}
	s.mu.Unlock()

	res.BytesFreed = diskUsage(trash).bytes
	sort.Strings(res.InUse)
	took := time.Since(start)
	s.metrics.GCDone(res.BlobsRemoved, res.SnapshotsRemoved, took)
	s.log.Info("gc", "blobs_removed", res.BlobsRemoved, "snapshots_removed", res.SnapshotsRemoved,
		"bytes_freed", res.BytesFreed, "in_use", len(res.InUse), "took", took)
	if err != nil {
		if ctx.Err() != nil {
			return res, ctxError(ctx)
		}
		return res, err
	}
	return res, nil
}

// mark walks from the kept digests: indexes to their manifests, manifests
// to their config and layers, configs to their layers' chain IDs. Layer
// blobs are never read.
func (s *Store) mark(keep Refs) (blobs, snaps map[string]bool) {
	blobs, snaps = map[string]bool{}, map[string]bool{}
	type item struct {
		digest string
		layer  bool
	}
	var queue []item
	for _, d := range keep.Blobs {
		queue = append(queue, item{digest: d})
	}
	for len(queue) > 0 {
		it := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if _, err := parseDigest(it.digest); err != nil || blobs[it.digest] {
			continue
		}
		blobs[it.digest] = true
		if it.layer {
			continue
		}
		raw, err := s.readBlob(it.digest)
		if err != nil {
			continue // missing, or too large to be metadata
		}
		if m, err := parseManifest(raw, ""); err == nil {
			if m.isIndex() {
				for _, d := range m.Manifests {
					queue = append(queue, item{digest: d.Digest})
				}
				continue
			}
			queue = append(queue, item{digest: m.Config.Digest})
			for _, l := range m.Layers {
				queue = append(queue, item{digest: l.Digest, layer: true})
			}
			continue
		}
		if cfg, err := ParseConfig(raw); err == nil {
			for _, c := range ChainIDs(cfg.DiffIDs) {
				snaps[c] = true
			}
		}
	}
	for _, c := range keep.ChainIDs {
		snaps[c] = true
	}
	return blobs, snaps
}

// keepParents adds the parents of kept snapshots, transitively.
func (s *Store) keepParents(snaps map[string]bool) {
	var queue []string
	for c := range snaps {
		queue = append(queue, c)
	}
	for len(queue) > 0 {
		c := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		hexPart, err := parseDigest(c)
		if err != nil {
			continue
		}
		m, err := s.readSnapshotMeta(hexPart)
		if err != nil || m.Parent == "" || snaps[m.Parent] {
			continue
		}
		snaps[m.Parent] = true
		queue = append(queue, m.Parent)
	}
}

// sweep moves the entries of dir that keep does not name into trash and
// returns how many.
func (s *Store) sweep(dir string, keep map[string]bool, trash, prefix string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	n := 0
	for _, e := range entries {
		if keep["sha256:"+e.Name()] {
			continue
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(trash, prefix+e.Name())); err != nil {
			return n, fmt.Errorf("%w: %w", ErrStorage, err)
		}
		n++
	}
	return n, nil
}

// mountedSnapshots lists the snapshots that overlay mounts of this mount
// namespace use as layers.
func (s *Store) mountedSnapshots() (map[string]bool, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("overlay"))
	if err != nil {
		return nil, fmt.Errorf("%w: reading mountinfo: %w", ErrStorage, err)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(s.snapDir) + `/([0-9a-f]{64})/fs`)
	out := map[string]bool{}
	for _, m := range mounts {
		for _, opts := range []string{m.VFSOptions, m.Options} {
			for _, sub := range re.FindAllStringSubmatch(opts, -1) {
				out["sha256:"+sub[1]] = true
			}
		}
	}
	return out, nil
}

// Usage is the disk the store uses, for ImageFsInfo.
type Usage struct {
	// Timestamp is when it was measured.
	Timestamp time.Time
	// UsedBytes is the space allocated to the blobs and snapshots.
	UsedBytes uint64
	// InodesUsed counts their inodes (a hard-linked inode once).
	InodesUsed uint64
}

// Usage measures the space and inodes used under content/ and snapshots/.
// A measure younger than Options.UsageInterval is served from cache.
func (s *Store) Usage(ctx context.Context) (Usage, error) {
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	if !s.usage.Timestamp.IsZero() && time.Since(s.usage.Timestamp) < s.usageEvery {
		return s.usage, nil
	}
	now := time.Now()
	total := usageCount{seen: map[[2]uint64]bool{}}
	for _, d := range []string{filepath.Dir(s.blobDir), s.snapDir} {
		if err := total.walk(ctx, d); err != nil {
			if ctx.Err() != nil {
				return Usage{}, ctxError(ctx)
			}
			return Usage{}, fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	s.usage = Usage{Timestamp: now, UsedBytes: uint64(total.bytes), InodesUsed: uint64(len(total.seen))}
	return s.usage, nil
}

type usageCount struct {
	seen  map[[2]uint64]bool
	bytes int64
}

// walk adds the tree at dir, tolerating entries that vanish meanwhile (a
// concurrent GC).
func (u *usageCount) walk(ctx context.Context, dir string) error {
	n := 0
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if err == unix.ENOENT {
				return nil
			}
			return err
		}
		key := [2]uint64{st.Dev, st.Ino}
		if !u.seen[key] {
			u.seen[key] = true
			u.bytes += st.Blocks * 512
		}
		return nil
	})
}

// diskUsage measures a tree, ignoring errors (it is about to be deleted).
func diskUsage(dir string) usageCount {
	u := usageCount{seen: map[[2]uint64]bool{}}
	u.walk(context.Background(), dir)
	return u
}
