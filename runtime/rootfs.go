package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// OverlayOptions are the mount options of an overlay: lowers top-most first
// (image.Store.Lowers order), then the writable upper and its work
// directory. They are what the classic mount(2) interface takes; see
// MountOverlay for stacks too deep for it.
func OverlayOptions(lowers []string, upper, work string) string {
	return "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + upper + ",workdir=" + work
}

// maxMountData is the most mount(2) copies of its data argument: one page.
const maxMountData = 4095

// MountOverlay mounts the root filesystem of a container at target: the
// image's layers as read-only lowers, top-most first, under a writable
// upper. upper and work must exist on one filesystem. A stack whose option
// string does not fit in mount(2)'s one page is mounted through the new
// mount API one layer at a time ("lowerdir+", Linux 6.8).
func MountOverlay(lowers []string, upper, work, target string) error {
	if len(lowers) == 0 {
		return errors.New("overlay: no lower layers")
	}
	for _, p := range append(append([]string{}, lowers...), upper, work) {
		if strings.ContainsAny(p, ":,") {
			return fmt.Errorf("overlay: path %q contains ':' or ','", p)
		}
	}
	data := OverlayOptions(lowers, upper, work)
	if len(data) <= maxMountData {
		if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
			return fmt.Errorf("mount overlay on %s: %w", target, err)
		}
		return nil
	}
	return mountOverlayFD(lowers, upper, work, target)
}

func mountOverlayFD(lowers []string, upper, work, target string) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("overlay: fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	// Each lowerdir+ appends below the previous one: top-most first.
	for _, l := range lowers {
		if err := unix.FsconfigSetString(fsfd, "lowerdir+", l); err != nil {
			return fmt.Errorf("overlay: lowerdir+ %s: %w", l, err)
		}
	}
	if err := unix.FsconfigSetString(fsfd, "upperdir", upper); err != nil {
		return fmt.Errorf("overlay: upperdir: %w", err)
	}
	if err := unix.FsconfigSetString(fsfd, "workdir", work); err != nil {
		return fmt.Errorf("overlay: workdir: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("overlay: create: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("overlay: fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("overlay: move_mount to %s: %w", target, err)
	}
	return nil
}

// Unmount unmounts everything mounted at target (mounts stacked on it
// too), lazily so that a process still holding a file open does not keep
// the daemon from moving on. Nothing mounted there, or target missing, is
// success: recovery calls it on whatever it finds.
func Unmount(target string) error {
	for i := 0; i < 16; i++ {
		err := unix.Unmount(target, unix.MNT_DETACH)
		switch {
		case err == nil:
			continue // there may be another mount under it
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil // not a mount point (any more), or gone
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after 16 unmounts", target)
}

// Mounted reports whether something is mounted exactly at target.
func Mounted(target string) (bool, error) {
	ok, err := mountinfo.Mounted(target)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return ok, err
}

// MountsUnder lists the mount points at or below dir (deepest first), for
// the leak scan of recovery.
func MountsUnder(dir string) ([]string, error) {
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Mountpoint)
	}
	// Deepest first, so children are unmounted before their parents.
	slices.SortStableFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, nil
}
