package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var epoch = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// ent is one tar entry of a test layer.
type ent struct {
	h    tar.Header
	body string
}

func file(name, body string, mode int64) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: epoch}, body: body}
}

func dir(name string, mode int64) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: epoch}}
}

func symlink(name, target string) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch}}
}

func hardlink(name, target string) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: epoch}}
}

func char(name string, major, minor int64) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeChar, Name: name, Mode: 0o666, Devmajor: major, Devminor: minor, ModTime: epoch}}
}

func fifo(name string) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeFifo, Name: name, Mode: 0o644, ModTime: epoch}}
}

func whiteout(name string) ent { return file(name, "", 0o644) }

func (e ent) owner(uid, gid int) ent { e.h.Uid, e.h.Gid = uid, gid; return e }

func (e ent) xattr(name, value string) ent {
	if e.h.PAXRecords == nil {
		e.h.PAXRecords = map[string]string{}
	}
	e.h.PAXRecords["SCHILY.xattr."+name] = value
	e.h.Format = tar.FormatPAX
	return e
}

func (e ent) mtime(t time.Time) ent { e.h.ModTime, e.h.Format = t, tar.FormatPAX; return e }

func mkTar(t testing.TB, entries ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.h
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("tar body %s: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unpackInto unpacks entries into a fresh directory and returns it.
func unpackInto(t *testing.T, root string, lowers []string, entries ...ent) error {
	t.Helper()
	_, err := Unpack(context.Background(), bytes.NewReader(mkTar(t, entries...)), root, Options{Lowers: lowers})
	return err
}

func mustUnpack(t *testing.T, lowers []string, entries ...ent) string {
	t.Helper()
	root := t.TempDir()
	if err := unpackInto(t, root, lowers, entries...); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	return root
}

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}

func exists(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil
}

func xattrOf(t *testing.T, p, name string) (string, bool) {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Lgetxattr(p, name, buf)
	if err == unix.ENODATA {
		return "", false
	}
	if err != nil {
		t.Fatalf("lgetxattr %s %s: %v", p, name, err)
	}
	return string(buf[:n]), true
}

// treeState describes everything observable about a tree except atimes:
// names, types, modes, owners, sizes, link counts, content digests, symlink
// targets, mtimes and xattrs. skip names a subtree left out.
func treeState(t *testing.T, top, skip string) string {
	t.Helper()
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
		line := fmt.Sprintf("%s mode=%o uid=%d gid=%d size=%d nlink=%d rdev=%d mtime=%d", strings.TrimPrefix(p, top), st.Mode, st.Uid, st.Gid, st.Size, st.Nlink, st.Rdev, st.Mtim.Nano())
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " sha=" + hex.EncodeToString(sum[:8])
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + target
		}
		buf := make([]byte, 64<<10)
		if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
			names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
			sort.Strings(names)
			line += " xattrs=" + strings.Join(names, ",")
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", top, err)
	}
	return strings.Join(lines, "\n")
}

// sandbox lays out base/{root,outside} with files outside the root that a
// hostile layer would like to reach, and returns a check that nothing
// outside the root changed.
type sandbox struct {
	base, root, outside, secret string
	before                      string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	base := t.TempDir()
	s := &sandbox{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	s.secret = filepath.Join(s.outside, "secret")
	for _, d := range []string{s.root, s.outside, filepath.Join(s.outside, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.secret, []byte("do not touch"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.before = treeState(t, base, s.root)
	return s
}

func (s *sandbox) check(t *testing.T) {
	t.Helper()
	if after := treeState(t, s.base, s.root); after != s.before {
		t.Errorf("the tree outside the root changed:\nbefore:\n%s\nafter:\n%s", s.before, after)
	}
}
