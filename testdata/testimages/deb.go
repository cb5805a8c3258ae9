package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
)

// debFile is one entry of a package's data archive.
type debFile struct {
	Kind   entryKind
	Mode   int64
	Data   []byte
	Target string // symlink target, as written in the package
}

// fsIndex maps canonical relative paths ("usr/sbin/nginx") to the entries of
// one or more unpacked packages: a file system that exists only in memory,
// so selecting files from it is a pure function.
type fsIndex map[string]debFile

// readDeb loads the data archive of a .deb. dpkg-deb does the unwrapping
// (ar, then whichever compression the package uses); the tar is read here.
func readDeb(ctx context.Context, debPath string, into fsIndex) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", debPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpkg-deb: %w", err)
	}
	rerr := readTarInto(out, into)
	if rerr != nil {
		// Drain so that dpkg-deb is not stuck writing when we wait for it.
		_, _ = io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", debPath, err, stderr.String())
	}
	return rerr
}

func readTarInto(r io.Reader, into fsIndex) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if p == "." || !validPath(p) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			into[p] = debFile{Kind: kindDir, Mode: h.Mode & 0o7777}
		case tar.TypeSymlink:
			into[p] = debFile{Kind: kindSymlink, Mode: 0o777, Target: h.Linkname}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			into[p] = debFile{Kind: kindFile, Mode: h.Mode & 0o7777, Data: data}
		case tar.TypeLink:
			target := path.Clean(strings.TrimPrefix(h.Linkname, "./"))
			f, ok := into[target]
			if !ok {
				return fmt.Errorf("%w: hard link %s to unknown %s", ErrBadEntry, p, target)
			}
			into[p] = f
		}
	}
}

// resolve follows symbolic links from p inside the index (absolute targets
// are taken from the index's root) and returns every path it went through,
// p first and the final non-link last.
func (ix fsIndex) resolve(p string) ([]string, error) {
	var chain []string
	for hops := 0; hops < 32; hops++ {
		f, ok := ix[p]
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrLibraryNotFound, p)
		}
		chain = append(chain, p)
		if f.Kind != kindSymlink {
			return chain, nil
		}
		t := f.Target
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = strings.TrimPrefix(path.Clean("/"+t), "/")
	}
	return nil, fmt.Errorf("%w: symlink loop at %s", ErrBadEntry, p)
}

// elfDeps is what the dynamic loader needs to start an ELF file: its
// interpreter (for executables) and its DT_NEEDED libraries.
type elfDeps func(data []byte) (interp string, needed []string, err error)

func readELFDeps(data []byte) (string, []string, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return "", nil, err
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	needed, err := f.ImportedLibraries()
	if err != nil {
		return "", nil, err
	}
	return interp, needed, nil
}

// libraryClosure returns every path (symlinks included) that the binaries
// at roots need at run time: their interpreter and the transitive closure of
// their DT_NEEDED libraries, each looked up in searchDirs in order, as the
// dynamic loader of a Debian system does without an ld.so.cache. This is
// what `ldd` lists, computed from the pinned packages instead of the host.
func libraryClosure(ix fsIndex, roots []string, searchDirs []string, deps elfDeps) ([]string, error) {
	include := map[string]bool{}
	var queue []string
	add := func(chain []string) {
		for _, p := range chain {
			include[p] = true
		}
		last := chain[len(chain)-1]
		queue = append(queue, last)
	}
	for _, r := range roots {
		chain, err := ix.resolve(r)
		if err != nil {
			return nil, err
		}
		add(chain)
	}
	scanned := map[string]bool{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if scanned[p] {
			continue
		}
		scanned[p] = true
		interp, needed, err := deps(ix[p].Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if interp != "" {
			chain, err := ix.resolve(strings.TrimPrefix(path.Clean(interp), "/"))
			if err != nil {
				return nil, fmt.Errorf("interpreter of %s: %w", p, err)
			}
			add(chain)
		}
		for _, lib := range needed {
			var found []string
			for _, d := range searchDirs {
				if chain, err := ix.resolve(path.Join(d, lib)); err == nil {
					found = chain
					break
				}
			}
			if found == nil {
				return nil, fmt.Errorf("%w: %s, needed by %s", ErrLibraryNotFound, lib, p)
			}
			add(found)
		}
	}
	out := make([]string, 0, len(include))
	for p := range include {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// entryFromDeb copies an index entry into a layer entry, owned 0:0 like
// every file of a Debian package these images use.
func entryFromDeb(ix fsIndex, p string) (entry, error) {
	f, ok := ix[p]
	if !ok {
		return entry{}, fmt.Errorf("%w: %s is in no pinned package", ErrBadEntry, p)
	}
	switch f.Kind {
	case kindSymlink:
		return symlinkEntry(p, f.Target), nil
	case kindDir:
		return dirEntry(p, f.Mode), nil
	default:
		return fileEntry(p, f.Mode, f.Data), nil
	}
}

// readELFDepsFile is readELFDeps on a file.
func readELFDepsFile(p string) (string, []string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", nil, err
	}
	return readELFDeps(data)
}
