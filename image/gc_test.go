package image

import (
	"context"
	"io/fs"
	"net/http"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// gcFixture pulls two images that share their bottom layer, and releases
// them, so that only Refs decide what GC keeps.
type gcFixture struct {
	s      *Store
	reg    *testRegistry
	a, b   *Pulled
	imgA   v1.Image
	shared string // chain ID of the shared layer
}

func newGCFixture(t *testing.T) *gcFixture {
	t.Helper()
	reg := newRegistry(t, false)
	base := layerOf(t, tarOf(t, dirEnt("bin/", 0o755), fileEnt("bin/sh", "base", 0o755)))
	imgA := imageOf(t, "amd64", "a", base, layerOf(t, tarOf(t, fileEnt("a", "a", 0o644))))
	imgB := imageOf(t, "amd64", "b", base, layerOf(t, tarOf(t, fileEnt("b", "b", 0o644))), layerOf(t, tarOf(t, fileEnt("b2", "b2", 0o644))))
	reg.push(t, "a:1", imgA)
	reg.push(t, "b:1", imgB)
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	f := &gcFixture{s: s, reg: reg, imgA: imgA}
	var err error
	if f.a, err = s.Pull(context.Background(), "example.test/a:1", nil); err != nil {
		t.Fatal(err)
	}
	if f.b, err = s.Pull(context.Background(), "example.test/b:1", nil); err != nil {
		t.Fatal(err)
	}
	f.a.Release()
	f.b.Release()
	f.shared = f.a.ChainIDs[0]
	return f
}

func (f *gcFixture) complete(t *testing.T, p *Pulled) bool {
	t.Helper()
	m, err := f.s.Check(p.ManifestDigest, p.ChainIDs)
	if err != nil {
		t.Fatal(err)
	}
	return m.Complete()
}

// storeObjects lists every blob and snapshot on disk.
func storeObjects(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	for _, n := range entries(t, s.blobDir) {
		out = append(out, "blob:"+n)
	}
	for _, n := range entries(t, s.snapDir) {
		out = append(out, "snap:"+n)
	}
	sort.Strings(out)
	return out
}

func TestGCKeepsReferencedImages(t *testing.T) {
	f := newGCFixture(t)
	s := f.s
	before := len(storeObjects(t, s))

	res, err := s.GC(context.Background(), Refs{Blobs: []string{f.a.ManifestDigest}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.complete(t, f.a) {
		t.Error("the kept image lost content")
	}
	if f.complete(t, f.b) {
		t.Error("the unreferenced image is still complete")
	}
	// b had a manifest, a config, 3 layer blobs (one shared) and 3
	// snapshots (one shared): 4 blobs and 2 snapshots go.
	if res.BlobsRemoved != 4 || res.SnapshotsRemoved != 2 || res.BytesFreed <= 0 {
		t.Errorf("GC = %+v, want 4 blobs and 2 snapshots removed", res)
	}
	if after := len(storeObjects(t, s)); after != before-6 {
		t.Errorf("%d objects left of %d, want %d", after, before, before-6)
	}
	if n := entries(t, s.tmpDir); len(n) != 0 {
		t.Errorf("GC left trash: %v", n)
	}

	// Keeping by image ID (config digest) alone keeps the config and the
	// snapshots; the manifest and layer blobs go.
	res, err = s.GC(context.Background(), Refs{Blobs: []string{f.a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lowers(f.a.ChainIDs); err != nil {
		t.Errorf("snapshots of an image kept by ID: %v", err)
	}
	if !s.hasBlob(f.a.ID) || s.hasBlob(f.a.ManifestDigest) || res.BlobsRemoved != 3 {
		t.Errorf("keep by ID: GC = %+v", res)
	}

	// Nothing kept: everything goes.
	if _, err := s.GC(context.Background(), Refs{}); err != nil {
		t.Fatal(err)
	}
	if left := storeObjects(t, s); len(left) != 0 {
		t.Errorf("objects left after GC of everything: %v", left)
	}
}

func TestGCKeepsContainerSnapshotsAndParents(t *testing.T) {
	f := newGCFixture(t)
	top := f.b.ChainIDs[len(f.b.ChainIDs)-1]
	res, err := f.s.GC(context.Background(), Refs{ChainIDs: []string{top}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Lowers(f.b.ChainIDs); err != nil {
		t.Errorf("a container's snapshots (top named, parents implied) were removed: %v", err)
	}
	if f.s.hasSnapshot(f.a.ChainIDs[1]) {
		t.Error("a's own layer survived")
	}
	if len(entries(t, f.s.blobDir)) != 0 || res.SnapshotsRemoved != 1 {
		t.Errorf("GC = %+v; blobs left %v", res, entries(t, f.s.blobDir))
	}
}

func TestGCNeverRemovesMountedSnapshots(t *testing.T) {
	f := newGCFixture(t)
	lowers, err := f.s.Lowers(f.a.ChainIDs)
	if err != nil {
		t.Fatal(err)
	}
	m := mountOverlay(t, lowers)
	res, err := f.s.GC(context.Background(), Refs{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(f.a.ChainIDs)
	if !reflect.DeepEqual(res.InUse, f.a.ChainIDs) {
		t.Errorf("InUse = %v, want a's chain %v", res.InUse, f.a.ChainIDs)
	}
	if got := readFile(t, join(m, "a")); got != "a" {
		t.Errorf("the mounted image broke: %q", got)
	}
	if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.GC(context.Background(), Refs{}); err != nil {
		t.Fatal(err)
	}
	if left := storeObjects(t, f.s); len(left) != 0 {
		t.Errorf("left after unmount and GC: %v", left)
	}
}

// A pull in progress holds what it has written; GC waits for nobody and
// removes nothing of it. An unreleased Pulled keeps its image too.
func TestGCRespectsLeases(t *testing.T) {
	f := newGCFixture(t)
	s, reg := f.s, f.reg
	if _, err := s.GC(context.Background(), Refs{}); err != nil {
		t.Fatal(err)
	}
	img := simpleImage(t, "leased")
	reg.push(t, "c:1", img)
	layers, _ := img.Layers()
	topDigest, _ := layers[1].Digest()
	gate := make(chan struct{})
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/blobs/"+topDigest.String()) {
			<-gate
		}
		return false
	})
	type result struct {
		p   *Pulled
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := s.Pull(context.Background(), "example.test/c:1", nil)
		done <- result{p, err}
	}()
	bottomChain := ChainIDs([]string{mustDigest(t, func() (v1.Hash, error) { return layers[0].DiffID() })})[0]
	waitFor(t, "the bottom snapshot of the pull in progress", func() bool { return s.hasSnapshot(bottomChain) })

	res, err := s.GC(context.Background(), Refs{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsRemoved != 0 || res.SnapshotsRemoved != 0 {
		t.Errorf("GC during a pull removed %+v", res)
	}
	close(gate)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !f.complete(t, r.p) {
		t.Error("the pull that raced GC is incomplete")
	}
	if res, _ := s.GC(context.Background(), Refs{}); res.BlobsRemoved != 0 || res.SnapshotsRemoved != 0 {
		t.Errorf("GC removed an unreleased image: %+v", res)
	}
	r.p.Release()
	r.p.Release() // idempotent
	if res, _ := s.GC(context.Background(), Refs{}); res.BlobsRemoved != 4 || res.SnapshotsRemoved != 2 {
		t.Errorf("GC after Release = %+v, want the image's 4 blobs and 2 snapshots", res)
	}
}

func TestGCRespectsHold(t *testing.T) {
	f := newGCFixture(t)
	release := f.s.Hold([]string{f.a.ManifestDigest}, f.b.ChainIDs)
	res, err := f.s.GC(context.Background(), Refs{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.s.hasBlob(f.a.ManifestDigest) || f.s.hasBlob(f.a.ID) {
		t.Error("Hold of a manifest digest keeps that blob, and only that blob")
	}
	if _, err := f.s.Lowers(f.b.ChainIDs); err != nil {
		t.Errorf("held snapshots removed: %v", err)
	}
	if res.SnapshotsRemoved != 1 {
		t.Errorf("GC = %+v, want a's own layer removed", res)
	}
	release()
	release()
	if _, err := f.s.GC(context.Background(), Refs{}); err != nil {
		t.Fatal(err)
	}
	if left := storeObjects(t, f.s); len(left) != 0 {
		t.Errorf("left after release: %v", left)
	}
}

func TestUsage(t *testing.T) {
	f := newGCFixture(t)
	s := f.s
	u, err := s.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Count independently: every inode once under content/ and snapshots/.
	seen := map[uint64]bool{}
	var bytes int64
	for _, d := range []string{filepath.Dir(s.blobDir), s.snapDir} {
		filepath.WalkDir(d, func(p string, _ fs.DirEntry, err error) error {
			var st unix.Stat_t
			if err == nil && unix.Lstat(p, &st) == nil && !seen[st.Ino] {
				seen[st.Ino] = true
				bytes += st.Blocks * 512
			}
			return nil
		})
	}
	if u.InodesUsed != uint64(len(seen)) || u.UsedBytes != uint64(bytes) {
		t.Errorf("Usage = %+v, independent count %d inodes %d bytes", u, len(seen), bytes)
	}
	if time.Since(u.Timestamp) > time.Minute {
		t.Errorf("Usage timestamp %v", u.Timestamp)
	}
	// Cached: a GC that frees space is not seen before the interval.
	if _, err := s.GC(context.Background(), Refs{}); err != nil {
		t.Fatal(err)
	}
	u2, err := s.Usage(context.Background())
	if err != nil || u2 != u {
		t.Errorf("second Usage within the interval = %+v, %v; want the cached %+v", u2, err, u)
	}

	s2, _ := newStore(t, Options{UsageInterval: time.Nanosecond}, nil)
	e1, err := s2.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := writeBlobString(s2, "late blob"); err != nil {
		t.Fatal(err)
	}
	e2, err := s2.Usage(context.Background())
	if err != nil || e2.InodesUsed != e1.InodesUsed+1 || !e2.Timestamp.After(e1.Timestamp) {
		t.Errorf("Usage after a new blob = %+v (before %+v), %v", e2, e1, err)
	}
}

func writeBlobString(s *Store, content string) error {
	d := digestOf([]byte(content))
	return s.putBlob(d, []byte(content))
}
