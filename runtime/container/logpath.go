package container

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/logbook-cri/logbook/runtime"
)

// LogPath is the container's CRI log file: the pod's log_directory joined
// with the container's log_path, which must stay inside that directory.
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
	dir = filepath.Clean(dir)
	p := filepath.Join(dir, rel)
	if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: log_path %q in %q: %w", runtime.ErrInvalidArgument, rel, dir, ErrLogPathEscape)
	}
	return p, nil
}
