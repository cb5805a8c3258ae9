package oci

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func devicePtr(m os.FileMode) *os.FileMode { return &m }
func u32p(v uint32) *uint32                { return &v }

func TestDevices(t *testing.T) {
	fuse := HostDevice{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: 0o666}
	sda := HostDevice{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0, FileMode: 0o660, GID: 6}
	dri := []HostDevice{
		{Path: "/dev/dri/card0", Type: "c", Major: 226, Minor: 0, FileMode: 0o660, GID: 44},
		{Path: "/dev/dri/renderD128", Type: "c", Major: 226, Minor: 128, FileMode: 0o666},
	}
	resolved := map[string][]HostDevice{"/dev/fuse": {fuse}, "/dev/disk/by-id/x": {sda}, "/dev/dri": dri}
	deny := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	rule := func(d HostDevice, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: i64p(d.Major), Minor: i64p(d.Minor), Access: access}
	}
	node := func(p string, d HostDevice) specs.LinuxDevice {
		return specs.LinuxDevice{Path: p, Type: d.Type, Major: d.Major, Minor: d.Minor, FileMode: devicePtr(d.FileMode), UID: u32p(d.UID), GID: u32p(d.GID)}
	}
	for _, tc := range []struct {
		name       string
		devices    []*runtimeapi.Device
		privileged bool
		host       Host
		wantNodes  []specs.LinuxDevice
		wantRules  []specs.LinuxDeviceCgroup
		err        error
	}{
		{name: "none: deny all but runc's standard nodes", wantRules: []specs.LinuxDeviceCgroup{deny}},
		{name: "one device", devices: []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rw"}},
			wantNodes: []specs.LinuxDevice{node("/dev/fuse", fuse)}, wantRules: []specs.LinuxDeviceCgroup{deny, rule(fuse, "rw")}},
		{name: "symlink to a device, renamed, default permissions", devices: []*runtimeapi.Device{{ContainerPath: "/dev/xvda", HostPath: "/dev/disk/by-id/x"}},
			wantNodes: []specs.LinuxDevice{node("/dev/xvda", sda)}, wantRules: []specs.LinuxDeviceCgroup{deny, rule(sda, "rwm")}},
		{name: "a directory of devices", devices: []*runtimeapi.Device{{ContainerPath: "/dev/gpu", HostPath: "/dev/dri", Permissions: "mrw"}},
			wantNodes: []specs.LinuxDevice{node("/dev/gpu/card0", dri[0]), node("/dev/gpu/renderD128", dri[1])},
			wantRules: []specs.LinuxDeviceCgroup{deny, rule(dri[0], "mrw"), rule(dri[1], "mrw")}},
		{name: "privileged: all host devices, all allowed", privileged: true,
			host:      Host{Devices: []HostDevice{fuse, sda, {Path: "/dev/pts/0", Type: "c", Major: 136}, {Path: "/dev/console", Type: "c", Major: 5, Minor: 1}, {Path: "/dev/fifo", Type: "p"}}},
			wantNodes: []specs.LinuxDevice{node("/dev/fuse", fuse), node("/dev/sda", sda)},
			wantRules: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}},
		{name: "privileged: a requested device keeps its place", privileged: true, host: Host{Devices: []HostDevice{fuse}},
			devices:   []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "r"}},
			wantNodes: []specs.LinuxDevice{node("/dev/fuse", fuse)},
			wantRules: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}},
		{name: "bad permissions", devices: []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rwx"}}, err: ErrInvalid},
		{name: "repeated permission", devices: []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rr"}}, err: ErrInvalid},
		{name: "relative container path", devices: []*runtimeapi.Device{{ContainerPath: "dev/fuse", HostPath: "/dev/fuse"}}, err: ErrInvalid},
		{name: "relative host path", devices: []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "fuse"}}, err: ErrInvalid},
		{name: "same container path twice", devices: []*runtimeapi.Device{{ContainerPath: "/dev/f", HostPath: "/dev/fuse"}, {ContainerPath: "/dev/f", HostPath: "/dev/disk/by-id/x"}}, err: ErrInvalid},
		{name: "not resolved by the caller", devices: []*runtimeapi.Device{{ContainerPath: "/dev/null2", HostPath: "/dev/null"}}, err: ErrBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes, rules, err := Devices(tc.devices, resolved, tc.privileged, tc.host)
			wantErr(t, err, tc.err)
			if tc.err != nil {
				return
			}
			jsonEqual(t, nodes, tc.wantNodes)
			jsonEqual(t, rules, tc.wantRules)
		})
	}
}

func TestContainerDevicesInSpec(t *testing.T) {
	in := testContainerInput()
	in.Config.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rwm"}}
	in.Devices = map[string][]HostDevice{"/dev/fuse": {{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: 0o666}}}
	s, _ := mustContainer(t, in)
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/fuse" || len(s.Linux.Resources.Devices) != 2 || !s.Linux.Resources.Devices[1].Allow {
		t.Fatalf("devices %+v rules %+v", s.Linux.Devices, s.Linux.Resources.Devices)
	}
}
