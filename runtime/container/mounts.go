package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
	// ids are what each host path named when it was checked (or created),
	// for verify.
	ids map[string]fileID
}

// fileID identifies a file: its device and inode.
type fileID struct{ dev, ino uint64 }

// resolveMounts resolves the host paths of the CRI mounts and checks their
// propagation against the host's mount table. It only reads.
func resolveMounts(mounts []*runtimeapi.Mount, table []*mountinfo.Info) (mountSources, error) {
	src := mountSources{resolved: map[string]string{}, ids: map[string]fileID{}}
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
			if src.ids[hp], err = identify(r); err != nil {
				return src, fmt.Errorf("mounts[%d].host_path %q: %w", i, hp, err)
			}
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
		if m.ids[hp], err = identify(r); err != nil {
			return fmt.Errorf("host path %s: %w", hp, err)
		}
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

// identify opens the resolved host path r without following any symlink
// (it had none when it was resolved: one now was planted since) and tells
// which file it is.
func identify(r string) (fileID, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, r, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return fileID{}, fmt.Errorf("%w: %w: %s changed while it was checked", runtime.ErrFailedPrecondition, ErrMountChanged, r)
	}
	if err != nil {
		return fileID{}, fmt.Errorf("open %s: %w", r, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: st.Dev, ino: st.Ino}, nil
}

// verify checks, once runc has created the container (its mounts are in
// place, nothing of the image runs yet), that every CRI mount shows the
// container the file its host path named when the daemon checked it. runc
// mounts a source by its path, so a host path whose components were
// swapped for symlinks between the check and runc's mount would otherwise
// give the container whatever the links point to; then the creation fails
// and is rolled back. pid is the container's init; spec the spec runc was
// given, which tells a mount covered by a masked path (not the host
// path's file, by design) from one that changed.
func (m *mountSources) verify(pid int, mounts []*runtimeapi.Mount, spec *specs.Spec) error {
	root, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the container's root: %w", err)
	}
	defer unix.Close(root)
	for i, mnt := range mounts {
		want, ok := m.ids[mnt.GetHostPath()]
		dst := filepath.Clean(mnt.GetContainerPath())
		if !ok || masked(spec, dst) {
			continue
		}
		fd, err := unix.Openat2(root, dst, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			return fmt.Errorf("%w: %w: mounts[%d]: %s in the container: %w", runtime.ErrFailedPrecondition, ErrMountChanged, i, dst, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err != nil {
			return err
		}
		if (fileID{dev: st.Dev, ino: st.Ino}) != want {
			return fmt.Errorf("%w: %w: mounts[%d].host_path %q is not what was checked", runtime.ErrFailedPrecondition, ErrMountChanged, i, mnt.GetHostPath())
		}
	}
	return nil
}

// masked tells whether the spec masks dst or a directory above it.
func masked(spec *specs.Spec, dst string) bool {
	if spec.Linux == nil {
		return false
	}
	for _, p := range spec.Linux.MaskedPaths {
		if dst == p || strings.HasPrefix(dst, p+"/") {
			return true
		}
	}
	return false
}
