package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// entryKind is what a layer entry is on disk.
type entryKind uint8

const (
	kindDir entryKind = iota + 1
	kindFile
	kindSymlink
)

// Mode bits beyond the permissions, as tar stores them.
const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
	modeSticky = 0o1000
)

// entry is one file, directory or symbolic link of a layer, described by
// value so that a layer is a pure function of its entries.
type entry struct {
	Path   string // relative to the root, slash-separated, canonical
	Kind   entryKind
	Mode   int64 // permission bits plus modeSetuid/modeSetgid/modeSticky
	UID    int
	GID    int
	Data   []byte // kindFile
	Target string // kindSymlink

	// LinkGroup makes hard links: regular files sharing a non-empty group
	// are one inode. One member carries Data; normalize writes the member
	// that sorts first as the regular file and the others as links to it,
	// because a tar link may only name an entry that precedes it.
	LinkGroup string

	// linkTo is set by normalize: the path this entry is a hard link to.
	linkTo string
}

func dirEntry(p string, mode int64) entry { return entry{Path: p, Kind: kindDir, Mode: mode} }

func fileEntry(p string, mode int64, data []byte) entry {
	return entry{Path: p, Kind: kindFile, Mode: mode, Data: data}
}

func symlinkEntry(p, target string) entry {
	return entry{Path: p, Kind: kindSymlink, Mode: 0o777, Target: target}
}

func (e entry) owned(uid, gid int) entry {
	e.UID, e.GID = uid, gid
	return e
}

// validPath reports whether p is a canonical path inside the root.
func validPath(p string) bool {
	return p != "" && p != "." && !path.IsAbs(p) && path.Clean(p) == p &&
		p != ".." && !strings.HasPrefix(p, "../")
}

// normalize checks entries, adds the directories they imply (0755, 0:0),
// sorts them by path and resolves hard link groups. The result is the exact
// sequence of a layer's tar, so equal inputs give equal bytes.
func normalize(in []entry) ([]entry, error) {
	byPath := make(map[string]entry, len(in))
	for _, e := range in {
		if !validPath(e.Path) {
			return nil, fmt.Errorf("%w: path %q", ErrBadEntry, e.Path)
		}
		switch e.Kind {
		case kindDir, kindFile, kindSymlink:
		default:
			return nil, fmt.Errorf("%w: %s: unknown kind %d", ErrBadEntry, e.Path, e.Kind)
		}
		if e.LinkGroup != "" && e.Kind != kindFile {
			return nil, fmt.Errorf("%w: %s: only regular files can be hard links", ErrBadEntry, e.Path)
		}
		if prev, dup := byPath[e.Path]; dup {
			// The same directory may be declared twice; nothing else may.
			if prev.Kind == kindDir && e.Kind == kindDir && prev.Mode == e.Mode && prev.UID == e.UID && prev.GID == e.GID {
				continue
			}
			return nil, fmt.Errorf("%w: %s given twice", ErrBadEntry, e.Path)
		}
		e.linkTo = ""
		byPath[e.Path] = e
	}
	for p := range byPath {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			parent, ok := byPath[d]
			if !ok {
				byPath[d] = dirEntry(d, 0o755)
				continue
			}
			if parent.Kind != kindDir {
				return nil, fmt.Errorf("%w: %s is under %s, which is not a directory", ErrBadEntry, p, d)
			}
		}
	}

	out := make([]entry, 0, len(byPath))
	for _, e := range byPath {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })

	// Hard link groups: the first member in tar order is the regular file.
	first := map[string]int{}
	content := map[string]entry{}
	for _, e := range out {
		if e.LinkGroup == "" || e.Data == nil {
			continue
		}
		if c, ok := content[e.LinkGroup]; ok && !bytes.Equal(c.Data, e.Data) {
			return nil, fmt.Errorf("%w: hard link group %q has two contents (%s, %s)", ErrBadEntry, e.LinkGroup, c.Path, e.Path)
		}
		if _, ok := content[e.LinkGroup]; !ok {
			content[e.LinkGroup] = e
		}
	}
	for i, e := range out {
		if e.LinkGroup == "" {
			continue
		}
		c, ok := content[e.LinkGroup]
		if !ok {
			return nil, fmt.Errorf("%w: hard link group %q has no content", ErrBadEntry, e.LinkGroup)
		}
		// Every member shares the inode, hence its data and metadata.
		e.Data, e.Mode, e.UID, e.GID = c.Data, c.Mode, c.UID, c.GID
		if j, seen := first[e.LinkGroup]; seen {
			e.linkTo = out[j].Path
			e.Data = nil
		} else {
			first[e.LinkGroup] = i
		}
		out[i] = e
	}
	return out, nil
}

// writeTar writes normalized entries as a tar stream with every time set to
// mtime and no user or group names, so the bytes depend on the entries only.
func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.Path,
			Mode:    e.Mode,
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
		}
		switch {
		case e.Kind == kindDir:
			h.Typeflag, h.Name = tar.TypeDir, e.Path+"/"
		case e.Kind == kindSymlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Target
		case e.linkTo != "":
			h.Typeflag, h.Linkname = tar.TypeLink, e.linkTo
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar header %s: %w", e.Path, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				return fmt.Errorf("tar data %s: %w", e.Path, err)
			}
		}
	}
	return tw.Close()
}

// gzipLayer normalizes entries and returns the gzip-compressed tar. The gzip
// header carries no name and no time, so it adds nothing variable either.
func gzipLayer(entries []entry, mtime time.Time, level int) ([]byte, error) {
	norm, err := normalize(entries)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	if err := writeTar(zw, norm, mtime); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
