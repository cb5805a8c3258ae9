package oci

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Well-known destinations.
const (
	devShm         = "/dev/shm"
	etcHostname    = "/etc/hostname"
	etcHosts       = "/etc/hosts"
	etcResolvConf  = "/etc/resolv.conf"
	sysFsCgroup    = "/sys/fs/cgroup"
	procMountPoint = "/proc"
)

// procFilesRuncAllows are the files under /proc that runc lets a bind
// mount cover (what lxcfs provides); any other destination in /proc is
// refused by runc at start, so it is refused here at create.
var procFilesRuncAllows = []string{
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
	"/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
}

// ValidateMountDestination checks a path inside the container that
// something is to be mounted on, and returns it cleaned. It must be
// absolute, free of ".." elements and NUL bytes, and must not be the root
// itself or /proc (runc would refuse those at start). Symbolic links inside
// the rootfs are resolved by runc within the rootfs when it mounts, so a
// valid destination cannot land outside it.
func ValidateMountDestination(p string) (string, error) {
	clean, reason := checkDestination(p)
	if reason != "" {
		return "", invalidf("%s", reason)
	}
	return clean, nil
}

func checkDestination(p string) (clean, reason string) {
	if clean, reason = checkContainerPath(p); reason != "" {
		return "", reason
	}
	if (clean == procMountPoint || strings.HasPrefix(clean, procMountPoint+"/")) && !slices.Contains(procFilesRuncAllows, clean) {
		return "", fmt.Sprintf("path %q is inside /proc", p)
	}
	return clean, ""
}

// checkContainerPath checks an absolute path inside the container other
// than its root, and cleans it.
func checkContainerPath(p string) (clean, reason string) {
	switch {
	case p == "":
		return "", "path is empty"
	case strings.IndexByte(p, 0) >= 0:
		return "", fmt.Sprintf("path %q contains a NUL byte", p)
	case !path.IsAbs(p):
		return "", fmt.Sprintf("path %q is not absolute", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Sprintf("path %q contains \"..\"", p)
		}
	}
	clean = path.Clean(p)
	if clean == "/" {
		return "", fmt.Sprintf("path %q would cover the container's root", p)
	}
	return clean, ""
}

// bindOptions a CRI mount may add in Mount.mount_options: per-mount flags.
// Read-only-ness and propagation have their own fields.
var bindOptions = []string{
	"nosuid", "suid", "nodev", "dev", "noexec", "exec",
	"noatime", "atime", "nodiratime", "diratime", "relatime", "norelatime",
	"strictatime", "nostrictatime",
}

// bind is a bind mount to make: a CRI mount or one the runtime adds.
type bind struct {
	dst, src    string
	readonly    bool
	rro         bool
	propagation runtimeapi.MountPropagation
	extra       []string
}

func (b bind) mount() specs.Mount {
	opts := []string{"rbind"}
	switch b.propagation {
	case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
		opts = append(opts, "rslave")
	case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
		opts = append(opts, "rshared")
	default:
		opts = append(opts, "rprivate")
	}
	switch {
	case b.rro:
		opts = append(opts, "rro")
	case b.readonly:
		opts = append(opts, "ro")
	default:
		opts = append(opts, "rw")
	}
	return specs.Mount{Destination: b.dst, Type: "bind", Source: b.src, Options: append(opts, b.extra...)}
}

func depth(p string) int { return strings.Count(p, "/") }

// criBind validates CRI mount i and turns it into a bind.
func criBind(i int, m *runtimeapi.Mount, in *ContainerInput) (bind, error) {
	field := func(f string) string { return "mounts[" + strconv.Itoa(i) + "]" + f }
	dst, reason := checkDestination(m.GetContainerPath())
	if reason != "" {
		return bind{}, invalidf("%s: %s", field(".container_path"), reason)
	}
	b := bind{dst: dst, readonly: m.GetReadonly(), propagation: m.GetPropagation()}
	switch b.propagation {
	case runtimeapi.MountPropagation_PROPAGATION_PRIVATE,
		runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER,
		runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
	default:
		return bind{}, invalidf("%s %d is unknown", field(".propagation"), int32(b.propagation))
	}
	if m.GetRecursiveReadOnly() {
		switch {
		case !m.GetReadonly():
			return bind{}, invalidf("%s: recursive_read_only needs readonly", field(""))
		case b.propagation != runtimeapi.MountPropagation_PROPAGATION_PRIVATE:
			return bind{}, invalidf("%s: recursive_read_only needs PROPAGATION_PRIVATE, not %s", field(""), b.propagation)
		case !in.Host.RecursiveReadOnlyMounts:
			return bind{}, unsupportedf("%s: recursive read-only mounts are not supported on this host", field(""))
		}
		b.rro = true
	}
	if len(m.GetUidMappings()) > 0 || len(m.GetGidMappings()) > 0 {
		return bind{}, unsupportedf("%s: id-mapped mounts are not supported by runc 1.1", field(""))
	}
	for _, o := range m.GetMountOptions() {
		if !slices.Contains(bindOptions, o) {
			return bind{}, invalidf("%s %q is not one of %s", field(".mount_options"), o, strings.Join(bindOptions, ", "))
		}
		b.extra = append(b.extra, o)
	}

	if img := m.GetImage(); img.GetImage() != "" {
		if m.GetHostPath() != "" {
			return bind{}, invalidf("%s: host_path and image are both set", field(""))
		}
		if !m.GetReadonly() {
			return bind{}, invalidf("%s: an image volume must be readonly", field(""))
		}
		src, ok := in.ImageVolumes[dst]
		if !ok {
			return bind{}, unsupportedf("%s: image volume %q was not prepared (image volumes are not supported)", field(".image"), img.GetImage())
		}
		if !path.IsAbs(src) {
			return bind{}, badInputf("%s: image volume directory %q is not absolute", field(""), src)
		}
		b.src = src
		return b, nil
	}
	src := m.GetHostPath()
	if src == "" {
		return bind{}, invalidf("%s is empty", field(".host_path"))
	}
	if resolved, ok := in.MountSources[src]; ok {
		src = resolved
	}
	if !path.IsAbs(src) || strings.IndexByte(src, 0) >= 0 {
		return bind{}, invalidf("%s %q is not an absolute path", field(".host_path"), src)
	}
	b.src = src
	return b, nil
}

// defaultMounts are the filesystems every container has, in mount order.
// /sys and, for workload containers, /sys/fs/cgroup are read-only unless
// privileged: a container must not reconfigure the node through them.
func defaultMounts(privileged, cgroupfs bool) []specs.Mount {
	sysMode := "ro"
	if privileged {
		sysMode = "rw"
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: devShm, Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", sysMode}},
	}
	if cgroupfs {
		mounts = append(mounts, specs.Mount{Destination: sysFsCgroup, Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", sysMode}})
	}
	return mounts
}

// containerMounts assembles a workload container's mounts:
//
//  1. the default filesystems, less those a requested mount replaces (same
//     destination; everything under /dev when /dev itself is requested);
//  2. the requested (CRI) mounts and the pod's shared files (/dev/shm,
//     /etc/hostname, /etc/hosts, /etc/resolv.conf), the latter only where no
//     requested mount covers them (the same path or a parent of it), all
//     sorted by depth so a parent is mounted before what lies below it.
//
// It returns the rootfs propagation the mounts need: "rshared" if any mount
// is bidirectional, else "rslave" if any receives host mounts, else ""
// (runc's default).
func containerMounts(in *ContainerInput, privileged, readonlyRoot bool, ipc runtimeapi.NamespaceMode) ([]specs.Mount, string, error) {
	var binds []bind
	seen := map[string]int{}
	for i, m := range in.Config.GetMounts() {
		b, err := criBind(i, m, in)
		if err != nil {
			return nil, "", err
		}
		if j, dup := seen[b.dst]; dup {
			return nil, "", invalidf("mounts[%d] and mounts[%d] both mount on %q", j, i, b.dst)
		}
		seen[b.dst] = i
		binds = append(binds, b)
	}
	covered := func(p string) bool {
		for _, b := range binds {
			if b.dst == p || strings.HasPrefix(p, b.dst+"/") {
				return true
			}
		}
		return false
	}

	if !covered(devShm) {
		switch ipc {
		case runtimeapi.NamespaceMode_NODE:
			binds = append(binds, bind{dst: devShm, src: devShm})
		case runtimeapi.NamespaceMode_POD:
			if !path.IsAbs(in.Files.Shm) {
				return nil, "", badInputf("the pod's /dev/shm (Files.Shm %q) is needed for a container in the pod's IPC namespace", in.Files.Shm)
			}
			binds = append(binds, bind{dst: devShm, src: in.Files.Shm})
		}
	}
	for _, f := range []struct{ dst, src string }{
		{etcHostname, in.Files.Hostname}, {etcHosts, in.Files.Hosts}, {etcResolvConf, in.Files.ResolvConf},
	} {
		if f.src == "" || covered(f.dst) {
			continue
		}
		if !path.IsAbs(f.src) {
			return nil, "", badInputf("pod file %q for %s is not an absolute path", f.src, f.dst)
		}
		binds = append(binds, bind{dst: f.dst, src: f.src, readonly: readonlyRoot})
	}
	slices.SortStableFunc(binds, func(a, b bind) int { return depth(a.dst) - depth(b.dst) })

	var mounts []specs.Mount
	_, devReplaced := seen["/dev"]
	for _, m := range defaultMounts(privileged, true) {
		if _, replaced := seen[m.Destination]; replaced {
			continue
		}
		if devReplaced && strings.HasPrefix(m.Destination, "/dev/") {
			continue
		}
		if m.Destination == devShm && slices.ContainsFunc(binds, func(b bind) bool { return b.dst == devShm }) {
			continue
		}
		mounts = append(mounts, m)
	}
	propagation := ""
	for _, b := range binds {
		mounts = append(mounts, b.mount())
		switch b.propagation {
		case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
			propagation = "rshared"
		case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
			if propagation == "" {
				propagation = "rslave"
			}
		}
	}
	return mounts, propagation, nil
}

// sandboxMounts are the infra process's: the default filesystems, with
// /dev/shm bound read-only from the pod's (or the host's) when there is one.
func sandboxMounts(shm string, hostIPC bool) ([]specs.Mount, error) {
	mounts := defaultMounts(false, false)
	src := shm
	if hostIPC {
		src = devShm
	}
	if src == "" {
		return mounts, nil
	}
	if !path.IsAbs(src) {
		return nil, badInputf("the pod's /dev/shm (ShmPath %q) is not an absolute path", src)
	}
	for i := range mounts {
		if mounts[i].Destination == devShm {
			mounts[i] = specs.Mount{Destination: devShm, Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}}
		}
	}
	return mounts, nil
}
