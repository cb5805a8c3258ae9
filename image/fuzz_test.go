package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/image/archive"
)

// fuzzSeeds are hostile and ordinary layers; the corpus in
// testdata/fuzz/FuzzUnpack holds them too (regenerate with
// LOGBOOK_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./image).
func fuzzSeeds(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"ordinary": tarOf(t, dirEnt("etc/", 0o755), fileEnt("etc/passwd", "root:x:0:0", 0o644),
			symlinkEnt("bin/sh", "busybox"), fileEnt("bin/busybox", "bb", 0o4755), linkEnt("bin/ls", "bin/busybox")),
		"whiteouts": tarOf(t, fileEnt(".wh.gone", "", 0o644), dirEnt("d/", 0o755), fileEnt("d/.wh..wh..opq", "", 0o644),
			fileEnt("d/.wh..wh.plnk", "", 0o644), fileEnt("lowerdir/.wh.f", "", 0o644)),
		"dotdot":        tarOf(t, fileEnt("../outside/pwned", "x", 0o644)),
		"abs-symlink":   tarOf(t, symlinkEnt("evil", "/"), fileEnt("evil/pwned", "x", 0o644), symlinkEnt("e2", "../../outside"), fileEnt("e2/secret", "x", 0o644)),
		"link-out":      tarOf(t, linkEnt("hl", "../outside/secret"), linkEnt("h2", "/outside/secret")),
		"link-symlink":  tarOf(t, symlinkEnt("s", "../outside/secret"), linkEnt("h", "s"), fileEnt("h", "x", 0o644)),
		"lower-link":    tarOf(t, linkEnt("copy", "lowerdir/f"), linkEnt("gone", "lowerdir/missing")),
		"devices":       tarOf(t, charEnt("null", 1, 3), fileEnt("null", "x", 0o644), charEnt("wh", 0, 0)),
		"replace":       tarOf(t, dirEnt("x/", 0o755), fileEnt("x/y", "y", 0o644), fileEnt("x", "file", 0o644), dirEnt("x/", 0o700)),
		"forged-xattrs": tarOf(t, dirEnt("o/", 0o755).xattr("trusted.overlay.opaque", "y").xattr("user.a", "b")),
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("LOGBOOK_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set LOGBOOK_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz/FuzzUnpack")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzUnpack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzState describes a tree (names, types, modes, owners, sizes, link
// counts, content digests, symlink targets, mtimes, xattrs).
func fuzzState(t *testing.T, top, skip string) string {
	var lines []string
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s %o %d:%d %d %d %d", strings.TrimPrefix(p, top), st.Mode, st.Uid, st.Gid, st.Size, st.Nlink, st.Mtim.Nano())
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:8])
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		buf := make([]byte, 4096)
		if n, err := unix.Llistxattr(p, buf); err == nil {
			names := strings.Split(string(buf[:n]), "\x00")
			sort.Strings(names)
			line += " " + strings.Join(names, ",")
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// FuzzUnpack feeds arbitrary bytes to the unpacker, with a lower layer to
// copy hard-link targets from and files outside the root worth attacking.
// Whatever the input: no panic, nothing outside the root changes (the lower
// layer included), and any error is classified as the layer's fault.
func FuzzUnpack(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		root, lower, outside := filepath.Join(base, "root"), filepath.Join(base, "lowerdir"), filepath.Join(base, "outside")
		for _, d := range []string{root, filepath.Join(lower, "lowerdir"), outside} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for p, body := range map[string]string{
			filepath.Join(lower, "lowerdir", "f"): "lower file",
			filepath.Join(outside, "secret"):      "secret",
		} {
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("../../outside/secret", filepath.Join(lower, "lowerdir", "s")); err != nil {
			t.Fatal(err)
		}
		before := fuzzState(t, base, root)
		_, err := archive.Unpack(context.Background(), bytes.NewReader(data), root, archive.Options{Lowers: []string{lower}})
		if err != nil && !errors.Is(err, archive.ErrInvalid) {
			t.Fatalf("error not classified as the layer's fault: %v", err)
		}
		if after := fuzzState(t, base, root); after != before {
			t.Fatalf("outside the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}
