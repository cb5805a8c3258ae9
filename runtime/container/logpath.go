package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/runtime"
)

// LogPath is the container's CRI log file: the pod's log_directory joined
// with the container's log_path, which must stay inside that directory
// (so it may not be absolute: the CRI makes it relative to the directory).
// An empty log_path means no log. A pod without a log directory may give
// an absolute log_path.
func LogPath(dir, rel string) (string, error) {
	if rel == "" {
		return "", nil
	}
	if strings.IndexByte(rel, 0) >= 0 || strings.IndexByte(dir, 0) >= 0 {
		return "", fmt.Errorf("%w: log_path %q: %w", runtime.ErrInvalidArgument, rel, ErrLogPathEscape)
	}
	if dir == "" {
		if !filepath.IsAbs(rel) {
			return "", fmt.Errorf("%w: log_path %q is relative and the pod has no log_directory", runtime.ErrInvalidArgument, rel)
		}
		return filepath.Clean(rel), nil
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%w: the pod's log_directory %q is not absolute", runtime.ErrInvalidArgument, dir)
	}
	if filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: log_path %q is absolute, not relative to %q: %w", runtime.ErrInvalidArgument, rel, dir, ErrLogPathEscape)
	}
	dir = filepath.Clean(dir)
	p := filepath.Join(dir, rel)
	if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: log_path %q in %q: %w", runtime.ErrInvalidArgument, rel, dir, ErrLogPathEscape)
	}
	return p, nil
}

// logTarget is the file the shim opens for the log at path (a result of
// LogPath) of a pod whose log directory is dir ("" when it has none: then
// path's own directory stands for it). The directory is the kubelet's
// choice and its symlinks are resolved; below it, log_path is the
// client's, and no component of it may be a symlink, since a link planted
// in the pod's log directory would otherwise carry the log, and the
// directories made for it, anywhere on the host. The target has no
// symlink at all, so the shim opens it with RESOLVE_NO_SYMLINKS: a link
// planted after this check (before a ReopenContainerLog, say) makes the
// open fail instead of escaping. An existing last component must be a
// regular file (a FIFO or a device would hang or feed the shim). realDir
// is the resolved log directory, for makeLogDir.
func logTarget(dir, path string) (realDir, target string, err error) {
	if path == "" {
		return "", "", nil
	}
	if dir == "" {
		dir = filepath.Dir(path)
	}
	dir = filepath.Clean(dir)
	rel := strings.TrimPrefix(path, dir+string(filepath.Separator))
	if realDir, err = resolveExisting(dir); err != nil {
		return "", "", fmt.Errorf("%w: log_directory %q: %w", runtime.ErrInvalidArgument, dir, err)
	}
	cur := realDir
	parts := strings.Split(rel, string(filepath.Separator))
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", "", fmt.Errorf("%w: log_path %q: %w", runtime.ErrInvalidArgument, rel, err)
		}
		last := i == len(parts)-1
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return "", "", fmt.Errorf("%w: log_path %q: %s is a symlink: %w", runtime.ErrInvalidArgument, rel, cur, ErrLogPathEscape)
		case !last && !fi.IsDir():
			return "", "", fmt.Errorf("%w: log_path %q: %s is not a directory", runtime.ErrInvalidArgument, rel, cur)
		case last && !fi.Mode().IsRegular():
			return "", "", fmt.Errorf("%w: log_path %q: %s exists and is not a regular file", runtime.ErrInvalidArgument, rel, cur)
		}
	}
	return realDir, filepath.Join(realDir, rel), nil
}

// resolveExisting resolves the symlinks of the longest existing prefix of
// the absolute path p and appends the rest, which does not exist and so
// holds no link.
func resolveExisting(p string) (string, error) {
	var rest []string
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || p == "/" {
			return "", err
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = filepath.Dir(p)
	}
}

// makeLogDir creates the resolved log directory realDir and the
// directories of target below it (both from logTarget) one at a time, each
// opened without following any symlink, so a link planted since the check
// makes it fail rather than create directories elsewhere.
func makeLogDir(realDir, target string) error {
	if target == "" {
		return nil
	}
	if err := os.MkdirAll(realDir, 0o755); err != nil {
		return err
	}
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS}
	fd, err := unix.Openat2(unix.AT_FDCWD, realDir, how)
	if err != nil {
		return fmt.Errorf("open log directory %s: %w", realDir, err)
	}
	rel := strings.TrimPrefix(filepath.Dir(target), realDir)
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "" {
			continue
		}
		if err := unix.Mkdirat(fd, part, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return fmt.Errorf("log directory %s: %w", part, err)
		}
		next, err := unix.Openat2(fd, part, how)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("log directory %s: %w", part, err)
		}
		fd = next
	}
	return unix.Close(fd)
}
