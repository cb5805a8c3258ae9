package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// capNetBindService is a VFS_CAP_REVISION_2 security.capability value with
// the effective flag and CAP_NET_BIND_SERVICE (bit 10) permitted.
var capNetBindService = string([]byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

func TestCleanName(t *testing.T) {
	cases := []struct {
		in, want string
		err      error
	}{
		{"a", "a", nil},
		{"./a/b/", "a/b", nil},
		{"/etc/passwd", "etc/passwd", nil},
		{"//a//b", "a/b", nil},
		{".", "", nil},
		{"./", "", nil},
		{"/", "", nil},
		{"a/../b", "b", nil},
		{"a/b/../../c", "c", nil},
		{"..", "", ErrBreakout},
		{"../x", "", ErrBreakout},
		{"a/../../x", "", ErrBreakout},
		{"/../x", "", ErrBreakout},
		{"./../x", "", ErrBreakout},
		{"", "", ErrBadHeader},
		{"a\x00b", "", ErrBadHeader},
		{"..a/b", "..a/b", nil},
		{"a/..b", "a/..b", nil},
	}
	for _, c := range cases {
		got, err := cleanName(c.in)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("cleanName(%q) = %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestUnpackPreservesMetadata(t *testing.T) {
	mtime := time.Date(2019, 5, 6, 7, 8, 9, 123456789, time.UTC)
	root := mustUnpack(t, nil,
		dir("etc/", 0o755),
		file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644).mtime(mtime),
		dir("tmp/", 0o1777),
		dir("srv/", 0o2775).owner(1000, 1001),
		file("srv/data", "data", 0o640).owner(1000, 1001),
		file("bin/su", "setuid binary", 0o4755),
		file("bin/ping", "capable binary", 0o755).xattr("security.capability", capNetBindService).xattr("user.note", "hello"),
		symlink("bin/sh", "/bin/busybox").owner(7, 8),
		file("bin/busybox", "busybox", 0o755),
		hardlink("bin/ls", "bin/busybox"),
		char("dev/null", 1, 3),
		fifo("run/fifo"),
		dir("deep/nested/dir/", 0o700),
		dir("bin/", 0o755).mtime(mtime),
	)

	if b, err := os.ReadFile(filepath.Join(root, "etc/passwd")); err != nil || string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("etc/passwd = %q, %v", b, err)
	}
	if st := lstat(t, filepath.Join(root, "etc/passwd")); st.Mtim.Nano() != mtime.UnixNano() {
		t.Errorf("etc/passwd mtime = %v, want %v", time.Unix(0, st.Mtim.Nano()).UTC(), mtime)
	}
	if st := lstat(t, filepath.Join(root, "bin")); st.Mtim.Nano() != mtime.UnixNano() {
		t.Errorf("bin mtime = %v, want %v (set after its entries)", time.Unix(0, st.Mtim.Nano()).UTC(), mtime)
	}
	modes := map[string]uint32{
		"tmp":             unix.S_IFDIR | 0o1777,
		"srv":             unix.S_IFDIR | 0o2775,
		"srv/data":        unix.S_IFREG | 0o640,
		"bin/su":          unix.S_IFREG | 0o4755,
		"bin/ping":        unix.S_IFREG | 0o755,
		"dev/null":        unix.S_IFCHR | 0o666,
		"run/fifo":        unix.S_IFIFO | 0o644,
		"deep":            unix.S_IFDIR | 0o755, // implicit parents
		"deep/nested":     unix.S_IFDIR | 0o755,
		"deep/nested/dir": unix.S_IFDIR | 0o700,
	}
	for p, want := range modes {
		if st := lstat(t, filepath.Join(root, p)); st.Mode != want {
			t.Errorf("%s mode = %o, want %o", p, st.Mode, want)
		}
	}
	if st := lstat(t, filepath.Join(root, "srv/data")); st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("srv/data owner = %d:%d", st.Uid, st.Gid)
	}
	if st := lstat(t, filepath.Join(root, "bin/sh")); st.Uid != 7 || st.Gid != 8 || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("bin/sh = mode %o owner %d:%d", st.Mode, st.Uid, st.Gid)
	}
	if target, err := os.Readlink(filepath.Join(root, "bin/sh")); err != nil || target != "/bin/busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	if st := lstat(t, filepath.Join(root, "dev/null")); st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null rdev = %d", st.Rdev)
	}
	a, b := lstat(t, filepath.Join(root, "bin/busybox")), lstat(t, filepath.Join(root, "bin/ls"))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("bin/ls is not a hard link of bin/busybox: inodes %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if v, ok := xattrOf(t, filepath.Join(root, "bin/ping"), "security.capability"); !ok || v != capNetBindService {
		t.Errorf("bin/ping security.capability = %x, %v", v, ok)
	}
	if v, ok := xattrOf(t, filepath.Join(root, "bin/ping"), "user.note"); !ok || v != "hello" {
		t.Errorf("bin/ping user.note = %q, %v", v, ok)
	}
}

func TestUnpackWhiteouts(t *testing.T) {
	root := mustUnpack(t, nil,
		dir("a/", 0o755),
		whiteout("a/.wh.gone"),
		whiteout(".wh.top"),
		dir("opaque/", 0o750),
		whiteout("opaque/.wh..wh..opq"),
		file("opaque/kept", "k", 0o644),
		whiteout("implicit/.wh..wh..opq"),
		whiteout("a/.wh..wh.plnk"),
	)
	for _, p := range []string{"a/gone", "top"} {
		st := lstat(t, filepath.Join(root, p))
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, want a 0/0 character device", p, st.Mode, st.Rdev)
		}
	}
	for _, p := range []string{"opaque", "implicit"} {
		if v, ok := xattrOf(t, filepath.Join(root, p), opaqueXattr); !ok || v != "y" {
			t.Errorf("%s: %s = %q, %v", p, opaqueXattr, v, ok)
		}
	}
	if _, ok := xattrOf(t, filepath.Join(root, "a"), opaqueXattr); ok {
		t.Error("a is opaque")
	}
	if exists(filepath.Join(root, "a/.wh..wh.plnk")) || exists(filepath.Join(root, "a/.wh.gone")) {
		t.Error("a whiteout entry was created under its own name")
	}
	if !exists(filepath.Join(root, "opaque/kept")) {
		t.Error("opaque/kept missing")
	}
}

func TestUnpackDropsForgedOverlayXattrs(t *testing.T) {
	root := mustUnpack(t, nil,
		dir("d/", 0o755).xattr("trusted.overlay.opaque", "y").xattr("trusted.overlay.redirect", "/etc"),
		file("f", "x", 0o644).xattr("trusted.overlay.metacopy", "").xattr("user.overlay.origin", "x"),
	)
	for _, p := range []string{"d", "f"} {
		for _, x := range []string{"trusted.overlay.opaque", "trusted.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.origin"} {
			if _, ok := xattrOf(t, filepath.Join(root, p), x); ok {
				t.Errorf("%s carries forged %s", p, x)
			}
		}
	}
}

func TestUnpackReplaces(t *testing.T) {
	root := mustUnpack(t, nil,
		file("f", "first", 0o644),
		file("f", "second", 0o600),
		dir("d/", 0o755),
		file("d/child", "c", 0o644),
		file("d", "now a file", 0o644),
		file("g", "a file", 0o644),
		dir("g/", 0o711),
		dir("m/", 0o700),
		dir("m/", 0o755),
		file("m/x", "x", 0o644),
	)
	check := func(p, body string, mode uint32) {
		t.Helper()
		st := lstat(t, filepath.Join(root, p))
		if st.Mode != mode {
			t.Errorf("%s mode %o, want %o", p, st.Mode, mode)
		}
		if body != "" {
			if b, _ := os.ReadFile(filepath.Join(root, p)); string(b) != body {
				t.Errorf("%s = %q, want %q", p, b, body)
			}
		}
	}
	check("f", "second", unix.S_IFREG|0o600)
	check("d", "now a file", unix.S_IFREG|0o644)
	check("g", "", unix.S_IFDIR|0o711)
	check("m", "", unix.S_IFDIR|0o755)
	check("m/x", "x", unix.S_IFREG|0o644)
}

func TestUnpackHardLinkFromLowerLayer(t *testing.T) {
	mtime := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	bottom := mustUnpack(t, nil,
		dir("a/", 0o755),
		file("a/y", "lower content", 0o750).owner(5, 6).xattr("user.k", "v").mtime(mtime),
		symlink("a/s", "../elsewhere"),
		char("a/dev", 1, 5),
		file("gone", "g", 0o644),
		dir("d/", 0o755),
		file("d/f", "f", 0o644),
		dir("tmp/", 0o1777).mtime(mtime),
	)
	middle := mustUnpack(t, []string{bottom},
		whiteout(".wh.gone"),
		dir("d/", 0o755),
		whiteout("d/.wh..wh..opq"),
	)
	lowers := []string{middle, bottom}
	top := mustUnpack(t, lowers,
		hardlink("b/copy", "a/y"),
		hardlink("b/link", "a/s"),
		hardlink("b/node", "/a/dev"),
		file("tmp/x", "x", 0o644),
	)
	b, err := os.ReadFile(filepath.Join(top, "b/copy"))
	if err != nil || string(b) != "lower content" {
		t.Fatalf("b/copy = %q, %v", b, err)
	}
	lo, cp := lstat(t, filepath.Join(bottom, "a/y")), lstat(t, filepath.Join(top, "b/copy"))
	if lo.Ino == cp.Ino {
		t.Error("b/copy shares the lower inode")
	}
	if cp.Mode != lo.Mode || cp.Uid != 5 || cp.Gid != 6 || cp.Mtim != lo.Mtim {
		t.Errorf("b/copy mode %o owner %d:%d mtime %v; lower mode %o mtime %v", cp.Mode, cp.Uid, cp.Gid, cp.Mtim, lo.Mode, lo.Mtim)
	}
	if v, ok := xattrOf(t, filepath.Join(top, "b/copy"), "user.k"); !ok || v != "v" {
		t.Errorf("b/copy user.k = %q, %v", v, ok)
	}
	if target, err := os.Readlink(filepath.Join(top, "b/link")); err != nil || target != "../elsewhere" {
		t.Errorf("b/link -> %q, %v", target, err)
	}
	if st := lstat(t, filepath.Join(top, "b/node")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 5) {
		t.Errorf("b/node mode %o rdev %d", st.Mode, st.Rdev)
	}
	// tmp was created implicitly and must look as it does below.
	if st := lstat(t, filepath.Join(top, "tmp")); st.Mode != unix.S_IFDIR|0o1777 || st.Mtim.Nano() != mtime.UnixNano() {
		t.Errorf("implicit tmp: mode %o mtime %v", st.Mode, time.Unix(0, st.Mtim.Nano()).UTC())
	}

	for _, c := range []struct{ name, target string }{
		{"whited-out", "gone"},      // deleted by the middle layer
		{"behind-opaque", "d/f"},    // hidden by the middle layer's opaque d
		{"nowhere", "no/such/file"}, // exists nowhere
		{"directory", "a"},          // a directory
	} {
		err := unpackInto(t, t.TempDir(), lowers, hardlink(c.name, c.target))
		if !errors.Is(err, ErrLinkTarget) {
			t.Errorf("hard link to %s: %v, want ErrLinkTarget", c.target, err)
		}
	}
}

// hostProbe is a file name the hostile cases try to create at the host's
// root.
var hostProbe = fmt.Sprintf("logbook-archive-test-%d", os.Getpid())

// The hostile cases: each must leave everything outside the root as it was
// and end in a precise error or a result inside the root.
func TestUnpackHostile(t *testing.T) {
	t.Cleanup(func() {
		if exists("/" + hostProbe) {
			os.Remove("/" + hostProbe)
			t.Errorf("a layer wrote /%s on the host", hostProbe)
		}
	})
	type result func(t *testing.T, s *sandbox, err error)
	wantErr := func(kind error) result {
		return func(t *testing.T, s *sandbox, err error) {
			t.Helper()
			if !errors.Is(err, kind) {
				t.Errorf("err = %v, want %v", err, kind)
			}
		}
	}
	// inRoot expects success and the file p (where "{outside}" stands for
	// the sandbox's outside path) inside the root.
	inRoot := func(p, body string) result {
		return func(t *testing.T, s *sandbox, err error) {
			t.Helper()
			p := strings.ReplaceAll(p, "{outside}", strings.TrimPrefix(s.outside, "/"))
			if err != nil {
				t.Fatalf("err = %v, want success", err)
			}
			b, rerr := os.ReadFile(filepath.Join(s.root, p))
			if rerr != nil || string(b) != body {
				t.Errorf("%s in root = %q, %v; want %q", p, b, rerr, body)
			}
		}
	}
	cases := []struct {
		name    string
		entries func(s *sandbox) []ent
		check   result
	}{
		{"dotdot entry", func(s *sandbox) []ent { return []ent{file("../outside/pwned", "x", 0o644)} }, wantErr(ErrBreakout)},
		{"nested dotdot entry", func(s *sandbox) []ent { return []ent{file("a/../../outside/pwned", "x", 0o644)} }, wantErr(ErrBreakout)},
		{"dotdot directory", func(s *sandbox) []ent { return []ent{dir("../outside/newdir/", 0o755)} }, wantErr(ErrBreakout)},
		{"absolute entry stays in root", func(s *sandbox) []ent {
			return []ent{file(s.outside+"/pwned", "x", 0o644)}
		}, inRoot("{outside}/pwned", "x")},
		{"write through absolute symlink to a missing dir", func(s *sandbox) []ent {
			return []ent{symlink("evil", s.outside), file("evil/pwned", "x", 0o644)}
		}, wantErr(ErrNotDir)},
		{"write through absolute symlink lands in root", func(s *sandbox) []ent {
			return []ent{dir(s.outside+"/", 0o755), symlink("evil", s.outside), file("evil/pwned", "x", 0o644)}
		}, inRoot("{outside}/pwned", "x")},
		{"write through relative symlink climbing out", func(s *sandbox) []ent {
			return []ent{symlink("evil", "../../../../../../../.."+s.outside), file("evil/pwned", "x", 0o644)}
		}, wantErr(ErrNotDir)},
		{"write through relative symlink to ../outside", func(s *sandbox) []ent {
			return []ent{symlink("evil", "../outside"), file("evil/pwned", "x", 0o644)}
		}, wantErr(ErrNotDir)},
		{"write through symlink to /", func(s *sandbox) []ent {
			// A broken unpacker would write this at the host's root:
			// the name is unique and the cleanup below removes it.
			return []ent{symlink("evil", "/"), file("evil/"+hostProbe, "x", 0o644)}
		}, inRoot(hostProbe, "x")},
		{"symlink chain climbing out stops at the root", func(s *sandbox) []ent {
			return []ent{symlink("a", "b"), symlink("b", "../"), file("a/outside/pwned", "x", 0o644)}
		}, inRoot("outside/pwned", "x")},
		{"file over a symlink to an outside file", func(s *sandbox) []ent {
			return []ent{symlink("f", s.secret), file("f", "replaced", 0o644)}
		}, inRoot("f", "replaced")},
		{"directory over a symlink to an outside dir", func(s *sandbox) []ent {
			return []ent{symlink("d", s.outside), dir("d/", 0o777), file("d/new", "n", 0o644)}
		}, inRoot("d/new", "n")},
		{"hard link climbing out", func(s *sandbox) []ent {
			return []ent{hardlink("hl", "../outside/secret")}
		}, wantErr(ErrBreakout)},
		{"hard link to an absolute outside path", func(s *sandbox) []ent {
			return []ent{hardlink("hl", s.secret)}
		}, wantErr(ErrLinkTarget)},
		{"hard link through a symlinked parent", func(s *sandbox) []ent {
			return []ent{symlink("d", s.outside), hardlink("hl", "d/secret")}
		}, wantErr(ErrLinkTarget)},
		{"hard link to a symlink pointing out, then writes", func(s *sandbox) []ent {
			return []ent{symlink("s", s.secret), hardlink("h", "s"), file("h/x", "x", 0o644), file("h", "replaced", 0o644)}
		}, wantErr(ErrNotDir)},
		{"hard link to a symlink pointing out, replaced", func(s *sandbox) []ent {
			return []ent{symlink("s", s.secret), hardlink("h", "s"), file("h", "replaced", 0o644)}
		}, inRoot("h", "replaced")},
		{"whiteout through a symlink", func(s *sandbox) []ent {
			return []ent{symlink("d", s.outside), whiteout("d/.wh.secret")}
		}, wantErr(ErrNotDir)},
		{"opaque through a symlink", func(s *sandbox) []ent {
			return []ent{symlink("d", "../outside"), whiteout("d/.wh..wh..opq")}
		}, wantErr(ErrNotDir)},
		{"whiteout named dotdot", func(s *sandbox) []ent { return []ent{whiteout("a/.wh..")} }, wantErr(ErrBadHeader)},
		{"device node then a file of the same name", func(s *sandbox) []ent {
			return []ent{char("null", 1, 3), file("null", "not written to the device", 0o644)}
		}, inRoot("null", "not written to the device")},
		{"fifo then a file of the same name", func(s *sandbox) []ent {
			return []ent{fifo("p"), file("p", "not blocked", 0o644)}
		}, inRoot("p", "not blocked")},
		{"symlink loop", func(s *sandbox) []ent {
			return []ent{symlink("l1", "l2"), symlink("l2", "l1"), file("l1/x", "x", 0o644)}
		}, wantErr(ErrInvalid)},
		{"root replaced by a file", func(s *sandbox) []ent { return []ent{file(".", "x", 0o644)} }, wantErr(ErrBadHeader)},
		{"negative owner", func(s *sandbox) []ent { return []ent{file("f", "x", 0o644).owner(-1, 0)} }, wantErr(ErrBadHeader)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := Unpack(context.Background(), bytes.NewReader(mkTar(t, c.entries(s)...)), s.root, Options{})
			c.check(t, s, err)
			s.check(t)
			if b, rerr := os.ReadFile(s.secret); rerr != nil || string(b) != "do not touch" {
				t.Errorf("secret = %q, %v", b, rerr)
			}
		})
	}
}

func TestUnpackDeviceNodeIsCreatedNotOpened(t *testing.T) {
	s := newSandbox(t)
	// Device entries become nodes in the root with the numbers they name;
	// nothing opens them (the char-device case of TestUnpackHostile shows a
	// later entry replaces a node rather than writing to it).
	_, err := Unpack(context.Background(), bytes.NewReader(mkTar(t,
		ent{h: tarHeaderBlock("sda", 8, 0)},
		char("zero", 1, 5),
	)), s.root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(s.root, "sda")); st.Mode&unix.S_IFMT != unix.S_IFBLK || st.Rdev != unix.Mkdev(8, 0) {
		t.Errorf("sda mode %o rdev %d", st.Mode, st.Rdev)
	}
	s.check(t)
}

func tarHeaderBlock(name string, major, minor int64) tar.Header {
	return tar.Header{Typeflag: tar.TypeBlock, Name: name, Mode: 0o660, Devmajor: major, Devminor: minor, ModTime: epoch}
}

func tarHeaderType(name string, typ byte) tar.Header {
	return tar.Header{Typeflag: typ, Name: name, Mode: 0o644, ModTime: epoch}
}

func TestUnpackErrors(t *testing.T) {
	good := mkTar(t, file("a", strings.Repeat("x", 4096), 0o644), file("b", "b", 0o644))
	boom := errors.New("boom")
	cases := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"truncated", bytes.NewReader(good[:1024]), ErrInvalid},
		{"garbage", bytes.NewReader(bytes.Repeat([]byte("garbage!"), 200)), ErrInvalid},
		{"reader error", io.MultiReader(bytes.NewReader(good[:1024]), iotestErr(boom)), boom},
		{"unsupported type", bytes.NewReader(mkTar(t, ent{h: tarHeaderType("x", 'Z')})), ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unpack(context.Background(), c.r, t.TempDir(), Options{})
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Unpack(ctx, bytes.NewReader(good), t.TempDir(), Options{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("empty stream is an empty layer", func(t *testing.T) {
		root := t.TempDir()
		st, err := Unpack(context.Background(), bytes.NewReader(nil), root, Options{})
		if err != nil || st.Entries != 0 {
			t.Errorf("Unpack(empty) = %+v, %v", st, err)
		}
	})
	t.Run("stats", func(t *testing.T) {
		st, err := Unpack(context.Background(), bytes.NewReader(good), t.TempDir(), Options{})
		if err != nil || st.Entries != 2 || st.Bytes != 4097 {
			t.Errorf("stats = %+v, %v; want 2 entries, 4097 bytes", st, err)
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func iotestErr(err error) io.Reader { return errReader{err} }

// fixChecksum recomputes a tar header block's checksum.
func fixChecksum(hdr []byte) {
	copy(hdr[148:156], "        ")
	sum := 0
	for _, c := range hdr[:512] {
		sum += int(c)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// sparseTar builds an old-GNU sparse entry (type 'S') whose single data
// fragment of one byte sits at offset: a few hundred bytes of archive
// describing a file of offset+1 bytes.
func sparseTar(t *testing.T, name string, offset int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: 1, Format: tar.FormatGNU, ModTime: epoch}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte{'x'})
	tw.Close()
	b := buf.Bytes()
	hdr := b[:512]
	octal := func(field []byte, v int64) {
		copy(field, fmt.Sprintf("%0*o", len(field)-1, v))
		field[len(field)-1] = 0
	}
	hdr[156] = 'S'
	octal(hdr[386:398], offset) // sparse[0].offset
	octal(hdr[398:410], 1)      // sparse[0].numbytes
	hdr[482] = 0                // not extended
	octal(hdr[483:495], offset+1)
	fixChecksum(hdr)
	return b
}

// paxSparseTar builds a PAX 1.0 sparse entry: a PAX header with the
// GNU.sparse records, then a file whose data starts with the sparse map.
func paxSparseTar(t *testing.T, name string, realSize int64) []byte {
	t.Helper()
	record := func(k, v string) string {
		line := " " + k + "=" + v + "\n"
		n := len(line)
		for len(fmt.Sprint(n+len(fmt.Sprint(n)))) != len(fmt.Sprint(n)) {
			n++
		}
		n += len(fmt.Sprint(n))
		return fmt.Sprint(n) + line
	}
	records := record("GNU.sparse.major", "1") + record("GNU.sparse.minor", "0") +
		record("GNU.sparse.name", name) + record("GNU.sparse.realsize", fmt.Sprint(realSize))
	sparseMap := fmt.Sprintf("1\n%d\n1\n", realSize-1)
	data := sparseMap + strings.Repeat("\x00", 512-len(sparseMap)) + "x"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "PaxHeaders/" + name, Size: int64(len(records)), Format: tar.FormatUSTAR, ModTime: epoch})
	tw.Write([]byte(records))
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "GNUSparseFile.0/" + name, Mode: 0o644, Size: int64(len(data)), Format: tar.FormatUSTAR, ModTime: epoch})
	tw.Write([]byte(data))
	tw.Close()
	b := buf.Bytes()
	b[156] = 'x'
	fixChecksum(b[:512])
	return b
}

func TestUnpackRefusesSparseFiles(t *testing.T) {
	for name, data := range map[string][]byte{
		"old gnu": sparseTar(t, "sparse", 1<<32), // 4 GiB of hole from one header
		"pax 1.0": paxSparseTar(t, "sparse", 1<<32),
	} {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := Unpack(context.Background(), bytes.NewReader(data), s.root, Options{})
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("sparse entry: %v, want ErrUnsupported", err)
			}
			if exists(filepath.Join(s.root, "sparse")) {
				t.Error("the sparse entry was written")
			}
			s.check(t)
		})
	}
}
