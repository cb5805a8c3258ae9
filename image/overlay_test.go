package image

import (
	"context"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// capNetBindService is a VFS_CAP_REVISION_2 security.capability value:
// effective, CAP_NET_BIND_SERVICE permitted.
var capNetBindService = string([]byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

// mountOverlay mounts the lowerdirs read-only at a fresh directory and
// unmounts it at cleanup. It skips where overlayfs is unavailable.
func mountOverlay(t *testing.T, lowers []string) string {
	t.Helper()
	merged := t.TempDir()
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if len(lowers) == 1 {
		// A single lower needs an upper to be a valid overlay mount.
		upper, work := t.TempDir(), t.TempDir()
		opts += ",upperdir=" + upper + ",workdir=" + work
	}
	err := unix.Mount("overlay", merged, "overlay", 0, opts)
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EPERM) {
		t.Skipf("overlayfs unavailable: %v", err)
	}
	if err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	t.Cleanup(func() {
		// EINVAL: the test unmounted it already.
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			t.Errorf("unmount %s: %v", merged, err)
		}
	})
	return merged
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	n := entries(t, dir)
	sort.Strings(n)
	return n
}

// TestOverlayMergedView pulls an image whose upper layer deletes, makes
// opaque, hard-links to the layer below, and carries setuid bits, file
// capabilities and device nodes, mounts its snapshots with overlayfs for
// real, and checks the merged view a container would see.
func TestOverlayMergedView(t *testing.T) {
	reg := newRegistry(t, false)
	bottom := layerOf(t, tarOf(t,
		dirEnt("etc/", 0o755),
		fileEnt("etc/passwd", "root:x:0:0::/:/bin/sh\n", 0o644),
		fileEnt("etc/shadow", "secret", 0o600),
		dirEnt("a/", 0o755),
		fileEnt("a/x", "x", 0o644),
		fileEnt("a/y", "y from below", 0o644),
		dirEnt("b/", 0o755),
		fileEnt("b/1", "1", 0o644),
		fileEnt("c", "c", 0o644),
		dirEnt("tmp/", 0o1777),
		dirEnt("bin/", 0o755),
		fileEnt("bin/busybox", "busybox", 0o755),
		linkEnt("bin/ls", "bin/busybox"),
	))
	top := layerOf(t, tarOf(t,
		fileEnt(".wh.c", "", 0o644),
		fileEnt("a/.wh.x", "", 0o644),
		dirEnt("b/", 0o755),
		fileEnt("b/.wh..wh..opq", "", 0o644),
		fileEnt("b/2", "2", 0o644),
		linkEnt("a/y-link", "a/y"),
		fileEnt("bin/su", "su", 0o4755),
		fileEnt("bin/ping", "ping", 0o755).xattr("security.capability", capNetBindService),
		charEnt("dev/null", 1, 3),
		symlinkEnt("bin/sh", "busybox"),
		fileEnt("tmp/new", "new", 0o600),
	))
	img := imageOf(t, "amd64", "overlay", bottom, top)
	reg.push(t, "overlay:1", img)
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	p, err := s.Pull(context.Background(), "example.test/overlay:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	lowers, err := s.Lowers(p.ChainIDs)
	if err != nil {
		t.Fatal(err)
	}
	m := mountOverlay(t, lowers)

	if exists(join(m, "c")) {
		t.Error("c survived its whiteout")
	}
	if got := names(t, join(m, "a")); strings.Join(got, ",") != "y,y-link" {
		t.Errorf("a = %v, want [y y-link]", got)
	}
	if got := names(t, join(m, "b")); strings.Join(got, ",") != "2" {
		t.Errorf("opaque b = %v, want [2]", got)
	}
	if got := readFile(t, join(m, "a/y-link")); got != "y from below" {
		t.Errorf("a/y-link = %q", got)
	}
	if got := readFile(t, join(m, "etc/passwd")); got != "root:x:0:0::/:/bin/sh\n" {
		t.Errorf("etc/passwd = %q", got)
	}
	var st unix.Stat_t
	if err := unix.Stat(join(m, "bin/su"), &st); err != nil || st.Mode != unix.S_IFREG|0o4755 {
		t.Errorf("bin/su mode %o, %v; want setuid 4755", st.Mode, err)
	}
	if err := unix.Stat(join(m, "tmp"), &st); err != nil || st.Mode != unix.S_IFDIR|0o1777 {
		t.Errorf("tmp mode %o, %v; want 1777 (the upper layer only implied it)", st.Mode, err)
	}
	if err := unix.Lstat(join(m, "dev/null"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null mode %o rdev %d, %v", st.Mode, st.Rdev, err)
	}
	var a, b unix.Stat_t
	if unix.Stat(join(m, "bin/ls"), &a) != nil || unix.Stat(join(m, "bin/busybox"), &b) != nil || a.Ino != b.Ino {
		t.Error("bin/ls is not a hard link of bin/busybox in the merged view")
	}
	if target, err := os.Readlink(join(m, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(join(m, "bin/ping"), "security.capability", buf)
	if err != nil || string(buf[:n]) != capNetBindService {
		t.Errorf("bin/ping security.capability = %x, %v", buf[:n], err)
	}
}
