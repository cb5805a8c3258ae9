package image

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestGCWithDecidesUnderTheLeaseMutex: keep is evaluated while no lease
// can be released, and what it returns is what GC keeps.
func TestGCWithDecidesUnderTheLeaseMutex(t *testing.T) {
	f := newGCFixture(t)
	calls := 0
	res, err := f.s.GCWith(context.Background(), func() Refs {
		calls++
		if f.s.mu.TryLock() {
			f.s.mu.Unlock()
			t.Error("keep ran without the lease mutex held")
		}
		return Refs{Blobs: []string{f.a.ManifestDigest}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("keep called %d times, want once", calls)
	}
	if !f.complete(t, f.a) || f.complete(t, f.b) {
		t.Errorf("GCWith kept the wrong image: %+v", res)
	}
	if res.BlobsRemoved != 4 || res.SnapshotsRemoved != 2 {
		t.Errorf("GCWith = %+v, want 4 blobs and 2 snapshots removed", res)
	}
}

// TestGCWithKeepsALeaseHeldDuringKeep: an image whose lease is still held
// when keep runs survives even though keep does not name it (its owner has
// not journalled it yet).
func TestGCWithKeepsALeaseHeldDuringKeep(t *testing.T) {
	f := newGCFixture(t)
	p, err := f.s.Pull(context.Background(), "example.test/b:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.GCWith(context.Background(), func() Refs { return Refs{} }); err != nil {
		t.Fatal(err)
	}
	if !f.complete(t, p) {
		t.Error("GC removed content of an unreleased pull")
	}
	p.Release()
	if _, err := f.s.GCWith(context.Background(), func() Refs { return Refs{} }); err != nil {
		t.Fatal(err)
	}
	if f.complete(t, p) {
		t.Error("released and unreferenced, the image survived GC")
	}
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	body := make([]byte, 64<<10)
	if err := os.WriteFile(filepath.Join(a, "f"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	// A hard link in the other tree is the same inode: counted once.
	if err := os.Link(filepath.Join(a, "f"), filepath.Join(b, "f")); err != nil {
		t.Fatal(err)
	}
	u, err := DiskUsage(context.Background(), a, b, filepath.Join(dir, "absent"))
	if err != nil {
		t.Fatal(err)
	}
	// Inodes: a, a/f (= b/f), b.
	if u.InodesUsed != 3 {
		t.Errorf("inodes = %d, want 3", u.InodesUsed)
	}
	if u.UsedBytes < uint64(len(body)) || u.UsedBytes >= 2*uint64(len(body)) {
		t.Errorf("bytes = %d, want the file counted once (%d) plus directories", u.UsedBytes, len(body))
	}
	if u.Timestamp.IsZero() {
		t.Error("no timestamp")
	}

	empty, err := DiskUsage(context.Background(), filepath.Join(dir, "absent"))
	if err != nil || empty.UsedBytes != 0 || empty.InodesUsed != 0 {
		t.Errorf("absent dir: %+v, %v", empty, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	many := filepath.Join(dir, "many")
	if err := os.MkdirAll(many, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2048; i++ {
		if err := os.WriteFile(filepath.Join(many, "f"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := DiskUsage(ctx, many); !errIs(err, ErrCanceled) {
		t.Errorf("cancelled walk: %v, want ErrCanceled", err)
	}
}
