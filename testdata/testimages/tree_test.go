package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	bb := fileEntry("bin/busybox", 0o755, []byte("BB"))
	bb.LinkGroup = "bb"
	link := func(p string) entry { return entry{Path: p, Kind: kindFile, LinkGroup: "bb"} }

	type want struct {
		path, linkTo string
		kind         entryKind
		mode         int64
		data         string
	}
	tests := []struct {
		name string
		in   []entry
		want []want
		err  error
	}{
		{
			name: "parents are implied and everything is sorted",
			in:   []entry{fileEntry("usr/bin/x", 0o644, []byte("x")), dirEntry("tmp", 0o777|modeSticky)},
			want: []want{
				{path: "tmp", kind: kindDir, mode: 0o1777},
				{path: "usr", kind: kindDir, mode: 0o755},
				{path: "usr/bin", kind: kindDir, mode: 0o755},
				{path: "usr/bin/x", kind: kindFile, mode: 0o644, data: "x"},
			},
		},
		{
			name: "the hard link that sorts first carries the content",
			in:   []entry{link("bin/ls"), bb, link("bin/["), link("bin/sh")},
			want: []want{
				{path: "bin", kind: kindDir, mode: 0o755},
				{path: "bin/[", kind: kindFile, mode: 0o755, data: "BB"},
				{path: "bin/busybox", kind: kindFile, mode: 0o755, linkTo: "bin/["},
				{path: "bin/ls", kind: kindFile, mode: 0o755, linkTo: "bin/["},
				{path: "bin/sh", kind: kindFile, mode: 0o755, linkTo: "bin/["},
			},
		},
		{
			name: "an identical directory may be declared twice",
			in:   []entry{dirEntry("etc", 0o755), dirEntry("etc", 0o755)},
			want: []want{{path: "etc", kind: kindDir, mode: 0o755}},
		},
		{name: "absolute path", in: []entry{fileEntry("/etc/passwd", 0o644, nil)}, err: ErrBadEntry},
		{name: "escaping path", in: []entry{fileEntry("../etc/passwd", 0o644, nil)}, err: ErrBadEntry},
		{name: "unclean path", in: []entry{fileEntry("etc//passwd", 0o644, nil)}, err: ErrBadEntry},
		{name: "dot", in: []entry{dirEntry(".", 0o755)}, err: ErrBadEntry},
		{name: "empty path", in: []entry{fileEntry("", 0o644, nil)}, err: ErrBadEntry},
		{name: "file twice", in: []entry{fileEntry("a", 0o644, nil), fileEntry("a", 0o644, nil)}, err: ErrBadEntry},
		{name: "directory with two modes", in: []entry{dirEntry("a", 0o755), dirEntry("a", 0o700)}, err: ErrBadEntry},
		{name: "file under a file", in: []entry{fileEntry("a", 0o644, nil), fileEntry("a/b", 0o644, nil)}, err: ErrBadEntry},
		{name: "file under a symlink", in: []entry{symlinkEntry("a", "b"), fileEntry("a/c", 0o644, nil)}, err: ErrBadEntry},
		{name: "link group without content", in: []entry{link("bin/ls"), link("bin/sh")}, err: ErrBadEntry},
		{
			name: "link group with two contents",
			in:   []entry{bb, {Path: "bin/sh", Kind: kindFile, LinkGroup: "bb", Data: []byte("other")}},
			err:  ErrBadEntry,
		},
		{name: "hard-linked directory", in: []entry{{Path: "d", Kind: kindDir, LinkGroup: "bb"}}, err: ErrBadEntry},
		{name: "unknown kind", in: []entry{{Path: "d"}}, err: ErrBadEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalize(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Path != w.path || g.Kind != w.kind || g.Mode != w.mode || g.linkTo != w.linkTo || string(g.Data) != w.data {
					t.Errorf("entry %d = {%s kind %d mode %o link %q data %q}, want %+v", i, g.Path, g.Kind, g.Mode, g.linkTo, g.Data, w)
				}
			}
		})
	}
}

func TestNormalizeDoesNotDependOnInputOrder(t *testing.T) {
	a := []entry{fileEntry("b/x", 0o644, []byte("1")), symlinkEntry("a", "b"), dirEntry("c", 0o700)}
	b := []entry{a[2], a[0], a[1]}
	la, err := gzipLayer(a, time.Unix(0, 0), gzip.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := gzipLayer(b, time.Unix(0, 0), gzip.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(la, lb) {
		t.Fatal("the same entries in another order gave other bytes")
	}
}

func TestGzipLayerIsReproducibleAndCarriesMetadata(t *testing.T) {
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := func() []entry {
		bb := fileEntry("bin/busybox", 0o755, []byte("BB"))
		bb.LinkGroup = "bb"
		return []entry{
			bb,
			{Path: "bin/sh", Kind: kindFile, LinkGroup: "bb"},
			fileEntry("usr/local/bin/nnp", 0o755|modeSetuid, []byte("nnp")),
			dirEntry("tmp", 0o777|modeSticky),
			dirEntry("home/u", 0o755).owned(1000, 1000),
			symlinkEntry("lib64/ld.so", "/lib/ld.so"),
		}
	}
	first, err := gzipLayer(entries(), mtime, gzip.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	second, err := gzipLayer(entries(), mtime, gzip.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("two layers from equal entries differ")
	}
	// The gzip header carries no time and no name.
	zr, err := gzip.NewReader(bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header has mtime %v name %q", zr.ModTime, zr.Name)
	}

	headers := map[string]*tar.Header{}
	var order []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(mtime) || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uname %q gname %q", h.Name, h.ModTime, h.Uname, h.Gname)
		}
		headers[h.Name] = h
		order = append(order, h.Name)
	}
	wantOrder := []string{"bin/", "bin/busybox", "bin/sh", "home/", "home/u/", "lib64/", "lib64/ld.so", "tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/nnp"}
	if len(order) != len(wantOrder) {
		t.Fatalf("entries %v, want %v", order, wantOrder)
	}
	for i := range order {
		if order[i] != wantOrder[i] {
			t.Fatalf("entries %v, want %v", order, wantOrder)
		}
	}
	check := func(name string, typ byte, mode int64, uid, gid int, link string) {
		t.Helper()
		h := headers[name]
		if h.Typeflag != typ || h.Mode != mode || h.Uid != uid || h.Gid != gid || h.Linkname != link {
			t.Errorf("%s: type %c mode %o %d:%d link %q; want type %c mode %o %d:%d link %q",
				name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, typ, mode, uid, gid, link)
		}
	}
	check("bin/busybox", tar.TypeReg, 0o755, 0, 0, "")
	check("bin/sh", tar.TypeLink, 0o755, 0, 0, "bin/busybox")
	check("usr/local/bin/nnp", tar.TypeReg, 0o4755, 0, 0, "")
	check("tmp/", tar.TypeDir, 0o1777, 0, 0, "")
	check("home/u/", tar.TypeDir, 0o755, 1000, 1000, "")
	check("lib64/ld.so", tar.TypeSymlink, 0o777, 0, 0, "/lib/ld.so")
}
