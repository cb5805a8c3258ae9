package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
)

// mountSources is the host side of a container's CRI mounts.
type mountSources struct {
	// resolved maps each existing host_path to the path to mount: symlinks
	// resolved on the host, so that what is mounted is what the path named
	// when the request was checked, and the container sees the target of a
	// symlink rather than a dangling link.
	resolved map[string]string
	// missing are host paths to create as directories (kubelet's
	// DirectoryOrCreate), after the intent is journaled.
	missing []string
}

// resolveMounts resolves the host paths of the CRI mounts and checks their
// propagation against the host's mount table. It only reads.
func resolveMounts(mounts []*runtimeapi.Mount, table []*mountinfo.Info) (mountSources, error) {
	src := mountSources{resolved: map[string]string{}}
	for i, m := range mounts {
		hp := m.GetHostPath()
		if hp == "" || m.GetImage().GetImage() != "" {
			continue // an image volume, or oci refuses it with its own words
		}
		if !filepath.IsAbs(hp) {
			return src, fmt.Errorf("%w: mounts[%d].host_path %q is not absolute", runtime.ErrInvalidArgument, i, hp)
		}
		target := hp
		switch r, err := filepath.EvalSymlinks(hp); {
		case err == nil:
			src.resolved[hp] = r
			target = r
		case errors.Is(err, fs.ErrNotExist):
			src.missing = append(src.missing, hp)
		default:
			return src, fmt.Errorf("%w: mounts[%d].host_path %q: %w", runtime.ErrInvalidArgument, i, hp, err)
		}
		if err := checkPropagation(table, target, m.GetPropagation()); err != nil {
			return src, fmt.Errorf("mounts[%d]: %w", i, err)
		}
	}
	return src, nil
}

// createMissing makes the missing host paths as directories and resolves
// them like the others.
func (m *mountSources) createMissing() error {
	for _, hp := range m.missing {
		if err := os.MkdirAll(hp, 0o755); err != nil {
			return fmt.Errorf("create host path %s: %w", hp, err)
		}
		r, err := filepath.EvalSymlinks(hp)
		if err != nil {
			return err
		}
		m.resolved[hp] = r
	}
	m.missing = nil
	return nil
}

// checkPropagation checks that the mount holding path can propagate as
// asked: BIDIRECTIONAL needs it shared, HOST_TO_CONTAINER shared or a
// slave (a private source would receive nothing from the host).
func checkPropagation(table []*mountinfo.Info, path string, p runtimeapi.MountPropagation) error {
	if p == runtimeapi.MountPropagation_PROPAGATION_PRIVATE {
		return nil
	}
	m := mountOf(table, path)
	if m == nil {
		return fmt.Errorf("%w: %w: no mount holds %s", runtime.ErrFailedPrecondition, ErrPropagation, path)
	}
	shared := strings.Contains(m.Optional, "shared:")
	slave := strings.Contains(m.Optional, "master:")
	switch {
	case p == runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL && !shared:
		return fmt.Errorf("%w: %w: %s is on %s, which is not a shared mount (BIDIRECTIONAL)", runtime.ErrFailedPrecondition, ErrPropagation, path, m.Mountpoint)
	case p == runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER && !shared && !slave:
		return fmt.Errorf("%w: %w: %s is on %s, which is neither a shared nor a slave mount (HOST_TO_CONTAINER)", runtime.ErrFailedPrecondition, ErrPropagation, path, m.Mountpoint)
	}
	return nil
}

// mountOf is the mount path lies on: the last mounted of those whose
// mount point is path or one of its parents (the top of a stack wins).
func mountOf(table []*mountinfo.Info, path string) *mountinfo.Info {
	var best *mountinfo.Info
	for _, m := range table {
		mp := m.Mountpoint
		if !(path == mp || mp == "/" || strings.HasPrefix(path, mp+"/")) {
			continue
		}
		if best == nil || len(mp) >= len(best.Mountpoint) {
			best = m
		}
	}
	return best
}
