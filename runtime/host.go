package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/runtime/oci"
)

// HostOptions is what DetectHost needs besides the machine itself.
type HostOptions struct {
	// Cgroups is the detected cgroup layout, Driver the driver selected
	// for it (cgroups.Host.SelectDriver).
	Cgroups cgroups.Host
	Driver  cgroups.Driver
	// Runc is the runc binary, asked which mount options it knows.
	Runc string
}

// DetectHost gathers the facts about this node that every spec depends on
// (oci.Host): the cgroup driver and version, swap accounting, recursive
// read-only mounts (runc knows "rro" and the kernel has mount_setattr),
// the lowest oom_score_adj this daemon may give (a sandboxed kernel may
// refuse negative values even to root: then specs are clamped rather than
// failing at create), AppArmor, the kernel release, the node's hostname
// and its online CPUs and memory nodes. The host's device nodes are not listed here: they change, and
// only privileged containers need them (HostDevices).
func DetectHost(ctx context.Context, o HostOptions) (oci.Host, error) {
	h := oci.Host{
		CgroupDriver:   oci.Cgroupfs,
		CgroupV2:       o.Cgroups.Mode == cgroups.ModeUnified,
		SwapAccounting: o.Cgroups.SwapAccounting,
	}
	if o.Driver == cgroups.DriverSystemd {
		h.CgroupDriver = oci.Systemd
	}
	features, err := runcFeatures(ctx, o.Runc)
	if err != nil {
		return oci.Host{}, err
	}
	h.RecursiveReadOnlyMounts = slices.Contains(features.MountOptions, "rro") && kernelHasMountSetattr()
	if min, restricted := detectOOMScoreAdjMin(); restricted {
		h.RestrictOOMScoreAdj, h.MinOOMScoreAdj = true, min
	}
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil {
		h.AppArmor = strings.TrimSpace(string(b)) == "Y"
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		h.KernelRelease = unix.ByteSliceToString(uts.Release[:])
	}
	if h.NodeHostname, err = os.Hostname(); err != nil {
		return oci.Host{}, err
	}
	// The online CPUs and memory nodes, for cpusets (absent: unknown).
	for p, dst := range map[string]*string{"/sys/devices/system/cpu/online": &h.CPUs, "/sys/devices/system/node/online": &h.MemoryNodes} {
		if b, err := os.ReadFile(p); err == nil {
			*dst = strings.TrimSpace(string(b))
		}
	}
	// A capability outside the daemon's own bounding set cannot be given
	// to a container (runc fails "unable to apply caps"): a sandboxed
	// node may lack some, as this project's test VM lacks SYS_RESOURCE.
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		if caps, ok := BoundingCapabilities(b); ok {
			h.Capabilities = caps
		}
	}
	return h, nil
}

// BoundingCapabilities reads the CapBnd line of a /proc/<pid>/status and
// returns the names of the capabilities it holds, in kernel order.
func BoundingCapabilities(status []byte) ([]string, bool) {
	for _, line := range strings.Split(string(status), "\n") {
		v, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return nil, false
		}
		var out []string
		for i, name := range oci.AllCapabilities() {
			if mask&(1<<uint(i)) != 0 {
				out = append(out, name)
			}
		}
		return out, true
	}
	return nil, false
}

// RuncFeatures is the part of `runc features` (runc >= 1.1) DetectHost
// reads.
type RuncFeatures struct {
	MountOptions []string `json:"mountOptions"`
}

// ParseRuncFeatures reads the JSON `runc features` prints.
func ParseRuncFeatures(out []byte) (RuncFeatures, error) {
	var f RuncFeatures
	if err := json.Unmarshal(out, &f); err != nil {
		return RuncFeatures{}, fmt.Errorf("runc features: %w", err)
	}
	return f, nil
}

func runcFeatures(ctx context.Context, runc string) (RuncFeatures, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, runc, "features")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// runc before 1.1 has no "features": it has no rro either.
		return RuncFeatures{}, nil
	}
	return ParseRuncFeatures(out)
}

// kernelHasMountSetattr probes mount_setattr(2) (Linux 5.12) with an
// invalid descriptor: a kernel that has it says EBADF, one that does not
// says ENOSYS.
func kernelHasMountSetattr() bool {
	err := unix.MountSetattr(-1, "", 0, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
}

// detectOOMScoreAdjMin finds whether this process may lower an
// oom_score_adj below its own, by trying it on itself (and putting the
// value back). When it may not, the lowest value it can give its children
// is its own: restricted is true and min is that value.
func detectOOMScoreAdjMin() (min int, restricted bool) {
	const path = "/proc/self/oom_score_adj"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || cur <= -1000 {
		return 0, false
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(cur-1)), 0); err != nil {
		return cur, true
	}
	_ = os.WriteFile(path, []byte(strconv.Itoa(cur)), 0)
	return 0, false
}

// HostDevices lists the device nodes under root (normally /dev), symlinks
// not followed, for privileged containers. Entries that vanish while they
// are listed are skipped.
func HostDevices(root string) ([]oci.HostDevice, error) {
	var out []oci.HostDevice
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		if d.IsDir() {
			switch d.Name() {
			case "pts", "shm", "mqueue":
				if p != root {
					return filepath.SkipDir // mounts of their own in a container
				}
			}
			return nil
		}
		if dev, ok := DeviceAt(p); ok {
			out = append(out, dev)
		}
		return nil
	})
	return out, err
}

// DeviceAt describes the device node at path p (not following a final
// symlink), or reports false when p is not a device node.
func DeviceAt(p string) (oci.HostDevice, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return oci.HostDevice{}, false
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return oci.HostDevice{}, false
	}
	return oci.HostDevice{
		Path:     p,
		Type:     typ,
		Major:    int64(unix.Major(st.Rdev)),
		Minor:    int64(unix.Minor(st.Rdev)),
		FileMode: os.FileMode(st.Mode & 0o777),
		UID:      st.Uid,
		GID:      st.Gid,
	}, true
}
