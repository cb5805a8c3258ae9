package oci

import (
	"os"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// hostDevicesSkipped are parts of the host's /dev a privileged container
// does not get as nodes: they are filesystems of its own (/dev/pts,
// /dev/shm, /dev/mqueue) or the host's console.
func hostDeviceSkipped(p string) bool {
	for _, dir := range []string{"/dev/pts", "/dev/shm", "/dev/mqueue"} {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return p == "/dev/console"
}

func validPermissions(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for i, c := range p {
		if !strings.ContainsRune("rwm", c) || strings.ContainsRune(p[:i], c) {
			return false
		}
	}
	return true
}

func specDevice(containerPath string, d HostDevice) specs.LinuxDevice {
	mode := d.FileMode & os.ModePerm
	uid, gid := d.UID, d.GID
	return specs.LinuxDevice{Path: containerPath, Type: d.Type, Major: d.Major, Minor: d.Minor, FileMode: &mode, UID: &uid, GID: &gid}
}

// Devices computes a container's device nodes and its device cgroup rules.
//
// Every CRI device is a host path (a node, or a directory of nodes the
// caller expanded) made available at container_path with the given
// permissions ("rwm" when empty). The cgroup denies every device not
// listed; runc adds its own standard nodes (/dev/null, /dev/zero, ...) and
// their rules. A privileged container also gets every host device and a
// cgroup that allows all.
func Devices(list []*runtimeapi.Device, resolved map[string][]HostDevice, privileged bool, host Host) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var (
		devices []specs.LinuxDevice
		rules   = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
		seen    = map[string]bool{}
	)
	for i, d := range list {
		ctrPath, reason := checkDestination(d.GetContainerPath())
		if reason != "" {
			return nil, nil, invalidf("devices[%d].container_path: %s", i, reason)
		}
		hostPath := d.GetHostPath()
		if !path.IsAbs(hostPath) {
			return nil, nil, invalidf("devices[%d].host_path %q is not an absolute path", i, hostPath)
		}
		perms := d.GetPermissions()
		if perms == "" {
			perms = "rwm"
		}
		if !validPermissions(perms) {
			return nil, nil, invalidf("devices[%d].permissions %q is not a combination of r, w and m", i, d.GetPermissions())
		}
		nodes, ok := resolved[hostPath]
		if !ok || len(nodes) == 0 {
			return nil, nil, badInputf("devices[%d]: host device %q was not resolved", i, hostPath)
		}
		for _, n := range nodes {
			if n.Type != "c" && n.Type != "b" {
				return nil, nil, badInputf("devices[%d]: %q has type %q, not c or b", i, n.Path, n.Type)
			}
			p := ctrPath
			if rel, under := strings.CutPrefix(n.Path, strings.TrimSuffix(hostPath, "/")+"/"); under {
				p = path.Join(ctrPath, rel)
			}
			if seen[p] {
				return nil, nil, invalidf("devices[%d]: %q is given twice", i, p)
			}
			seen[p] = true
			devices = append(devices, specDevice(p, n))
			major, minor := n.Major, n.Minor
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: n.Type, Major: &major, Minor: &minor, Access: perms})
		}
	}
	if privileged {
		for _, n := range host.Devices {
			if seen[n.Path] || hostDeviceSkipped(n.Path) || !path.IsAbs(n.Path) || (n.Type != "c" && n.Type != "b") {
				continue
			}
			seen[n.Path] = true
			devices = append(devices, specDevice(n.Path, n))
		}
		rules = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	return devices, rules, nil
}
