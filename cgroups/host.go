package cgroups

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Mode is the cgroup layout of a host.
type Mode int

const (
	// ModeLegacy: only cgroup v1 hierarchies are mounted.
	ModeLegacy Mode = iota + 1
	// ModeHybrid: v1 hierarchies hold the controllers, and a cgroup2
	// filesystem is mounted beside them (usually /sys/fs/cgroup/unified)
	// with few or no controllers.
	ModeHybrid
	// ModeUnified: only cgroup v2 is mounted, and it holds every controller.
	ModeUnified
)

func (m Mode) String() string {
	switch m {
	case ModeLegacy:
		return "legacy"
	case ModeHybrid:
		return "hybrid"
	case ModeUnified:
		return "unified"
	}
	return "unknown"
}

// Driver names who manages the cgroups of containers: runc writing
// cgroupfs directly, or runc asking systemd for scopes.
type Driver string

const (
	DriverCgroupfs Driver = "cgroupfs"
	DriverSystemd  Driver = "systemd"
)

// CRI returns the driver as CRI's RuntimeConfig reports it.
func (d Driver) CRI() runtimeapi.CgroupDriver {
	if d == DriverSystemd {
		return runtimeapi.CgroupDriver_SYSTEMD
	}
	return runtimeapi.CgroupDriver_CGROUPFS
}

// Mount is one mounted cgroup filesystem.
type Mount struct {
	// Point is where it is mounted, e.g. /sys/fs/cgroup/memory.
	Point string
	// Root is the cgroup shown at Point: "/" unless the mount was made in a
	// cgroup namespace or bind-mounts a subtree.
	Root string
}

// Dir returns the directory of the cgroup at cgroupPath (as
// /proc/<pid>/cgroup names it) under this mount.
func (m Mount) Dir(cgroupPath string) (string, error) {
	if !path.IsAbs(cgroupPath) {
		return "", fmt.Errorf("%w: %q is not absolute", ErrInvalidPath, cgroupPath)
	}
	p := path.Clean(cgroupPath)
	root := path.Clean("/" + m.Root)
	if root == "/" {
		return path.Join(m.Point, p), nil
	}
	if p == root {
		return m.Point, nil
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return path.Join(m.Point, rest), nil
	}
	return "", fmt.Errorf("%w: %q is outside the cgroup %q mounted at %s", ErrInvalidPath, cgroupPath, m.Root, m.Point)
}

// Host is what logbookd knows of the host's cgroups. It is computed once
// at start by Detect and is a plain value afterwards.
type Host struct {
	Mode Mode
	// V1 maps each controller of a mounted v1 hierarchy ("memory", "cpu";
	// named hierarchies as "name=systemd") to its mount. Co-mounted
	// controllers (cpu,cpuacct) share one Mount.
	V1 map[string]Mount
	// Unified is the cgroup2 mount; its Point is "" when there is none.
	Unified Mount
	// Controllers lists, sorted, every controller a container can be
	// placed under: the v1 controllers, plus those the cgroup2 root offers.
	Controllers []string
	// SwapAccounting reports whether the memory controller accounts swap
	// (v1: memory.memsw.* files; v2: memory.swap.* files).
	SwapAccounting bool
	// HugePageSizes lists the huge page sizes as hugetlb files name them
	// ("2MB", "1GB"), when the hugetlb controller is available.
	HugePageSizes []string
	// SystemdInit reports whether systemd is the init system
	// (/run/systemd/system exists).
	SystemdInit bool
}

// Has reports whether controller is available to containers.
func (h Host) Has(controller string) bool {
	_, ok := slices.BinarySearch(h.Controllers, controller)
	return ok
}

// SelectDriver returns the cgroup driver the daemon.json key
// "systemd-cgroup" asks for, or a clear error when the host cannot honour
// it.
func (h Host) SelectDriver(systemdCgroup bool) (Driver, error) {
	if !systemdCgroup {
		return DriverCgroupfs, nil
	}
	if !h.SystemdInit {
		return "", fmt.Errorf(`%w: "systemd-cgroup": true is set, but /run/systemd/system does not exist; set it to false to use the cgroupfs driver`, ErrSystemdUnavailable)
	}
	return DriverSystemd, nil
}

// ParseDriver turns a driver name into a Driver.
func ParseDriver(name string) (Driver, error) {
	switch d := Driver(name); d {
	case DriverCgroupfs, DriverSystemd:
		return d, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownDriver, name)
}

// Detect inspects the running host: /proc/self/mountinfo, the cgroup
// roots, /sys/kernel/mm/hugepages and /run/systemd/system.
func Detect() (Host, error) {
	return detect(os.DirFS("/"))
}

// isV1Controller tells the controllers of a v1 mount's super options from
// the mount options (rw, xattr, release_agent=, ...).
func isV1Controller(opt string) bool {
	switch opt {
	case "cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer",
		"net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc":
		return true
	}
	return strings.HasPrefix(opt, "name=")
}

// detect computes Host from a filesystem rooted at "/" (os.DirFS("/") in
// production, an fstest.MapFS in tests).
func detect(fsys fs.FS) (Host, error) {
	raw, err := fs.ReadFile(fsys, "proc/self/mountinfo")
	if err != nil {
		return Host{}, fmt.Errorf("cgroups: read mountinfo: %w", err)
	}
	mounts, err := mountinfo.GetMountsFromReader(bytes.NewReader(raw), mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return Host{}, fmt.Errorf("cgroups: parse mountinfo: %w", err)
	}
	h := Host{V1: map[string]Mount{}}
	controllers := map[string]bool{}
	for _, m := range mounts {
		mnt := Mount{Point: m.Mountpoint, Root: m.Root}
		switch m.FSType {
		case "cgroup2":
			// The first cgroup2 mount wins; later ones are bind mounts
			// of the same hierarchy.
			if h.Unified.Point == "" {
				h.Unified = mnt
			}
		case "cgroup":
			for _, opt := range strings.Split(m.VFSOptions, ",") {
				if !isV1Controller(opt) {
					continue
				}
				if _, seen := h.V1[opt]; !seen {
					h.V1[opt] = mnt
				}
				if !strings.HasPrefix(opt, "name=") {
					controllers[opt] = true
				}
			}
		}
	}
	switch {
	case len(controllers) > 0 && h.Unified.Point != "":
		h.Mode = ModeHybrid
	case len(controllers) > 0:
		h.Mode = ModeLegacy
	case h.Unified.Point != "":
		h.Mode = ModeUnified
	default:
		return Host{}, ErrNoCgroups
	}

	if h.Unified.Point != "" {
		data, err := fs.ReadFile(fsys, rel(path.Join(h.Unified.Point, "cgroup.controllers")))
		if err != nil && !isNotExist(err) {
			return Host{}, fmt.Errorf("cgroups: read cgroup2 controllers: %w", err)
		}
		for _, c := range strings.Fields(string(data)) {
			controllers[c] = true
		}
	}
	for c := range controllers {
		h.Controllers = append(h.Controllers, c)
	}
	slices.Sort(h.Controllers)

	h.SwapAccounting = detectSwap(fsys, h)
	if h.Has("hugetlb") {
		h.HugePageSizes = detectHugePageSizes(fsys)
	}
	if st, err := fs.Stat(fsys, "run/systemd/system"); err == nil && st.IsDir() {
		h.SystemdInit = true
	}
	return h, nil
}

// detectSwap looks for the swap accounting files. v1 shows memsw files in
// the memory root; v2 shows memory.swap.current only in non-root cgroups,
// so the daemon's own cgroup is looked at, then the root's children.
func detectSwap(fsys fs.FS, h Host) bool {
	if m, ok := h.V1["memory"]; ok {
		return exists(fsys, path.Join(m.Point, "memory.memsw.usage_in_bytes"))
	}
	if h.Mode != ModeUnified {
		return false
	}
	if own, err := fs.ReadFile(fsys, "proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(own), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok && p != "/" {
				if dir, err := h.Unified.Dir(p); err == nil && exists(fsys, path.Join(dir, "memory.swap.current")) {
					return true
				}
			}
		}
	}
	entries, err := fs.ReadDir(fsys, rel(h.Unified.Point))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() && exists(fsys, path.Join(h.Unified.Point, e.Name(), "memory.swap.current")) {
			return true
		}
	}
	return false
}

// detectHugePageSizes lists /sys/kernel/mm/hugepages (hugepages-2048kB,
// ...) and names each size as the hugetlb controller's files do.
func detectHugePageSizes(fsys fs.FS) []string {
	entries, err := fs.ReadDir(fsys, "sys/kernel/mm/hugepages")
	if err != nil {
		return nil
	}
	type size struct {
		kb   uint64
		name string
	}
	var sizes []size
	for _, e := range entries {
		v, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		v, ok = strings.CutSuffix(v, "kB")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(v, 10, 64)
		if err != nil || kb == 0 {
			continue
		}
		sizes = append(sizes, size{kb, HugePageSizeName(kb)})
	}
	slices.SortFunc(sizes, func(a, b size) int { return cmp.Compare(a.kb, b.kb) })
	names := make([]string, len(sizes))
	for i, s := range sizes {
		names[i] = s.name
	}
	return names
}

// HugePageSizeName names a huge page size of kB kibibytes the way the
// kernel's hugetlb controller names its files (hugetlb.2MB.*): in GB from
// 1 GiB up, in MB from 1 MiB up, in KB below.
func HugePageSizeName(kB uint64) string {
	switch {
	case kB >= 1<<20:
		return strconv.FormatUint(kB>>20, 10) + "GB"
	case kB >= 1<<10:
		return strconv.FormatUint(kB>>10, 10) + "MB"
	}
	return strconv.FormatUint(kB, 10) + "KB"
}

// rel turns an absolute path into an fs.FS path.
func rel(p string) string {
	r := strings.TrimPrefix(path.Clean(p), "/")
	if r == "" {
		return "."
	}
	return r
}

func exists(fsys fs.FS, p string) bool {
	_, err := fs.Stat(fsys, rel(p))
	return err == nil
}
