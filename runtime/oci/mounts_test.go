package oci

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestValidateMountDestination(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/data", "/data", true},
		{"/data/", "/data", true},
		{"//data//x", "/data/x", true},
		{"/var/./lib", "/var/lib", true},
		{"/proc/cpuinfo", "/proc/cpuinfo", true}, // lxcfs
		{"", "", false},
		{"data", "", false},
		{"./data", "", false},
		{"/", "", false},
		{"//", "", false},
		{"/.", "", false},
		{"/..", "", false},
		{"/a/../../etc", "", false},
		{"/a/..", "", false},
		{"/proc", "", false},
		{"/proc/sys/kernel", "", false},
		{"/a\x00b", "", false},
	} {
		got, err := ValidateMountDestination(tc.in)
		if tc.ok {
			wantErr(t, err, nil)
		} else {
			wantErr(t, err, ErrInvalid)
		}
		if got != tc.want {
			t.Errorf("ValidateMountDestination(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCRIMounts(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mounts      []*runtimeapi.Mount
		edit        func(*ContainerInput)
		want        specs.Mount // the mount at want.Destination
		propagation string
		err         error
	}{
		{
			name:   "critest volume: rbind rprivate rw",
			mounts: []*runtimeapi.Mount{{ContainerPath: "/tmp/test123", HostPath: "/tmp/test123", SelinuxRelabel: true}},
			want:   specs.Mount{Destination: "/tmp/test123", Type: "bind", Source: "/tmp/test123", Options: []string{"rbind", "rprivate", "rw"}},
		},
		{
			name:   "critest symlinked host path: the resolved source",
			mounts: []*runtimeapi.Mount{{ContainerPath: "/tmp/dir-symlink", HostPath: "/tmp/dir-symlink"}},
			edit:   func(in *ContainerInput) { in.MountSources = map[string]string{"/tmp/dir-symlink": "/tmp/dir"} },
			want:   specs.Mount{Destination: "/tmp/dir-symlink", Type: "bind", Source: "/tmp/dir", Options: []string{"rbind", "rprivate", "rw"}},
		},
		{
			name:        "critest propagation HOST_TO_CONTAINER",
			mounts:      []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/mnt", Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}},
			want:        specs.Mount{Destination: "/mnt", Type: "bind", Source: "/mnt", Options: []string{"rbind", "rslave", "rw"}},
			propagation: "rslave",
		},
		{
			name:        "critest propagation BIDIRECTIONAL",
			mounts:      []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/mnt", Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL}},
			want:        specs.Mount{Destination: "/mnt", Type: "bind", Source: "/mnt", Options: []string{"rbind", "rshared", "rw"}},
			propagation: "rshared",
		},
		{
			name: "rshared wins over rslave for the rootfs",
			mounts: []*runtimeapi.Mount{
				{ContainerPath: "/a", HostPath: "/a", Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL},
				{ContainerPath: "/b", HostPath: "/b", Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER},
			},
			want:        specs.Mount{Destination: "/b", Type: "bind", Source: "/b", Options: []string{"rbind", "rslave", "rw"}},
			propagation: "rshared",
		},
		{
			name:   "critest readonly, non-recursive",
			mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", Readonly: true}},
			want:   specs.Mount{Destination: "/mnt", Type: "bind", Source: "/h", Options: []string{"rbind", "rprivate", "ro"}},
		},
		{
			name:   "critest recursive read-only",
			mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", Readonly: true, RecursiveReadOnly: true}},
			want:   specs.Mount{Destination: "/mnt", Type: "bind", Source: "/h", Options: []string{"rbind", "rprivate", "rro"}},
		},
		{
			name:   "mount options are added",
			mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", MountOptions: []string{"noexec", "nosuid"}}},
			want:   specs.Mount{Destination: "/mnt", Type: "bind", Source: "/h", Options: []string{"rbind", "rprivate", "rw", "noexec", "nosuid"}},
		},
		{
			name:   "destination is cleaned",
			mounts: []*runtimeapi.Mount{{ContainerPath: "/data/", HostPath: "/h"}},
			want:   specs.Mount{Destination: "/data", Type: "bind", Source: "/h", Options: []string{"rbind", "rprivate", "rw"}},
		},
		{
			name:   "image volume prepared by the caller",
			mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt/image-volume", Readonly: true, Image: &runtimeapi.ImageSpec{Image: "sha256:abc"}}},
			edit: func(in *ContainerInput) {
				in.ImageVolumes = map[string]string{"/mnt/image-volume": "/var/lib/logbook/iv/abc"}
			},
			want: specs.Mount{Destination: "/mnt/image-volume", Type: "bind", Source: "/var/lib/logbook/iv/abc", Options: []string{"rbind", "rprivate", "ro"}},
		},
		{name: "critest RRO with HOST_TO_CONTAINER", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", Readonly: true, RecursiveReadOnly: true, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}}},
		{name: "critest RRO with BIDIRECTIONAL", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", Readonly: true, RecursiveReadOnly: true, Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL}}},
		{name: "critest RRO without readonly", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", RecursiveReadOnly: true}}},
		{name: "RRO on a host without mount_setattr", err: ErrUnsupported, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", Readonly: true, RecursiveReadOnly: true}},
			edit: func(in *ContainerInput) { in.Host.RecursiveReadOnlyMounts = false }},
		{name: "image volume not prepared", err: ErrUnsupported, mounts: []*runtimeapi.Mount{{ContainerPath: "/iv", Readonly: true, Image: &runtimeapi.ImageSpec{Image: "x"}}}},
		{name: "image volume read-write", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/iv", Image: &runtimeapi.ImageSpec{Image: "x"}}}},
		{name: "image and host path", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/iv", HostPath: "/h", Readonly: true, Image: &runtimeapi.ImageSpec{Image: "x"}}}},
		{name: "relative container path", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "mnt", HostPath: "/h"}}},
		{name: "escaping container path", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/../../etc", HostPath: "/h"}}},
		{name: "root as destination", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/", HostPath: "/h"}}},
		{name: "inside /proc", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/proc/sys", HostPath: "/h"}}},
		{name: "empty host path", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt"}}},
		{name: "relative host path", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "h"}}},
		{name: "two mounts on one path", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/a"}, {ContainerPath: "/mnt/", HostPath: "/b"}}},
		{name: "unknown propagation", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", Propagation: 9}}},
		{name: "mount option not allowed", err: ErrInvalid, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", MountOptions: []string{"rw"}}}},
		{name: "id-mapped mount", err: ErrUnsupported, mounts: []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", UidMappings: []*runtimeapi.IDMapping{{HostId: 1000, Length: 1}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testContainerInput()
			in.Config.Mounts = tc.mounts
			if tc.edit != nil {
				tc.edit(&in)
			}
			s, _, err := ContainerSpec(in)
			wantErr(t, err, tc.err)
			if tc.err != nil {
				if !strings.Contains(err.Error(), "mounts[") {
					t.Fatalf("error %q does not name the mount", err)
				}
				return
			}
			got, ok := findMount(s, tc.want.Destination)
			if !ok {
				t.Fatalf("no mount at %s in %q", tc.want.Destination, mountDestinations(s))
			}
			jsonEqual(t, got, tc.want)
			if s.Linux.RootfsPropagation != tc.propagation {
				t.Fatalf("rootfs propagation = %q, want %q", s.Linux.RootfsPropagation, tc.propagation)
			}
		})
	}
}

func TestContainerMountLayout(t *testing.T) {
	sb := "/var/lib/logbook/sandboxes/" + testSandboxID
	for _, tc := range []struct {
		name   string
		edit   func(*ContainerInput)
		want   []string // destinations in order
		checks func(*testing.T, *specs.Spec)
	}{
		{
			name: "defaults and pod files",
			want: []string{"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
			checks: func(t *testing.T, s *specs.Spec) {
				shm, _ := findMount(s, "/dev/shm")
				jsonEqual(t, shm, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/run/logbook/sandboxes/" + testSandboxID + "/shm", Options: []string{"rbind", "rprivate", "rw"}})
				hosts, _ := findMount(s, "/etc/hosts")
				jsonEqual(t, hosts, specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: sb + "/hosts", Options: []string{"rbind", "rprivate", "rw"}})
				sys, _ := findMount(s, "/sys")
				cg, _ := findMount(s, "/sys/fs/cgroup")
				if !slices.Contains(sys.Options, "ro") || !slices.Contains(cg.Options, "ro") {
					t.Fatalf("sysfs %q cgroupfs %q must be read-only", sys.Options, cg.Options)
				}
			},
		},
		{
			name: "readonly rootfs makes the pod files read-only",
			edit: func(in *ContainerInput) { sc(in).ReadonlyRootfs = true },
			want: []string{"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
			checks: func(t *testing.T, s *specs.Spec) {
				for _, d := range []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"} {
					m, _ := findMount(s, d)
					if !slices.Contains(m.Options, "ro") {
						t.Fatalf("%s options %q", d, m.Options)
					}
				}
				if !s.Root.Readonly {
					t.Fatal("root must be read-only")
				}
			},
		},
		{
			name: "privileged: writable sysfs and cgroupfs",
			edit: func(in *ContainerInput) { sc(in).Privileged = true; podSC(in.Sandbox).Privileged = true },
			want: []string{"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
			checks: func(t *testing.T, s *specs.Spec) {
				sys, _ := findMount(s, "/sys")
				cg, _ := findMount(s, "/sys/fs/cgroup")
				if !slices.Contains(sys.Options, "rw") || !slices.Contains(cg.Options, "rw") {
					t.Fatalf("sysfs %q cgroupfs %q must be writable", sys.Options, cg.Options)
				}
			},
		},
		{
			name: "CRI mounts cover pod files and replace defaults, sorted by depth",
			edit: func(in *ContainerInput) {
				in.Config.Mounts = []*runtimeapi.Mount{
					{ContainerPath: "/etc/hosts", HostPath: "/kubelet/etc-hosts"},
					{ContainerPath: "/data/deep/er", HostPath: "/h2"},
					{ContainerPath: "/data", HostPath: "/h1"},
					{ContainerPath: "/dev/shm", HostPath: "/big-shm"},
					{ContainerPath: "/sys/fs/cgroup", HostPath: "/sys/fs/cgroup"},
				}
			},
			want: []string{"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/data", "/etc/hosts", "/dev/shm", "/etc/hostname", "/etc/resolv.conf", "/data/deep/er", "/sys/fs/cgroup"},
			checks: func(t *testing.T, s *specs.Spec) {
				m, _ := findMount(s, "/etc/hosts")
				if m.Source != "/kubelet/etc-hosts" {
					t.Fatalf("/etc/hosts from %q, want the CRI mount", m.Source)
				}
			},
		},
		{
			name: "a parent mount covers the pod files below it",
			edit: func(in *ContainerInput) {
				in.Config.Mounts = []*runtimeapi.Mount{{ContainerPath: "/etc", HostPath: "/h"}}
			},
			want: []string{"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/etc", "/dev/shm"},
		},
		{
			name: "a requested /dev replaces everything under it",
			edit: func(in *ContainerInput) {
				in.Config.Mounts = []*runtimeapi.Mount{{ContainerPath: "/dev", HostPath: "/dev"}}
			},
			want: []string{"/proc", "/sys", "/sys/fs/cgroup", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
		},
		{
			name: "host IPC shares the host's /dev/shm",
			edit: func(in *ContainerInput) {
				podSC(in.Sandbox).NamespaceOptions.Ipc = runtimeapi.NamespaceMode_NODE
				sc(in).NamespaceOptions.Ipc = runtimeapi.NamespaceMode_NODE
			},
			want: []string{"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
			checks: func(t *testing.T, s *specs.Spec) {
				m, _ := findMount(s, "/dev/shm")
				if m.Source != "/dev/shm" || m.Type != "bind" {
					t.Fatalf("/dev/shm = %+v", m)
				}
			},
		},
		{
			name: "private IPC keeps a private /dev/shm",
			edit: func(in *ContainerInput) { sc(in).NamespaceOptions.Ipc = runtimeapi.NamespaceMode_CONTAINER },
			want: []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
			checks: func(t *testing.T, s *specs.Spec) {
				m, _ := findMount(s, "/dev/shm")
				if m.Type != "tmpfs" {
					t.Fatalf("/dev/shm = %+v", m)
				}
			},
		},
		{
			name: "pod files the pod does not have are left out",
			edit: func(in *ContainerInput) { in.Files.Hostname, in.Files.ResolvConf = "", "" },
			want: []string{"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/etc/hosts"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testContainerInput()
			if tc.edit != nil {
				tc.edit(&in)
			}
			s, _ := mustContainer(t, in)
			if got := mountDestinations(s); !slices.Equal(got, tc.want) {
				t.Fatalf("mounts\n got  %q\n want %q", got, tc.want)
			}
			if tc.checks != nil {
				tc.checks(t, s)
			}
		})
	}
}

func TestContainerMountsNeedThePodShm(t *testing.T) {
	in := testContainerInput()
	in.Files.Shm = ""
	_, _, err := ContainerSpec(in)
	wantErr(t, err, ErrBadInput)
}

func TestSandboxMounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		shm     string
		hostIPC bool
		want    specs.Mount
	}{
		{name: "pod shm, read-only for pause", shm: "/run/shm", want: specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/run/shm", Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}}},
		{name: "host IPC", shm: "/run/shm", hostIPC: true, want: specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}}},
		{name: "no pod shm: a private tmpfs", want: specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testSandboxInput()
			in.ShmPath = tc.shm
			if tc.hostIPC {
				podSC(in.Config).NamespaceOptions.Ipc = runtimeapi.NamespaceMode_NODE
			}
			s := mustSandbox(t, in)
			if got := mountDestinations(s); !slices.Equal(got, []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"}) {
				t.Fatalf("mounts %q", got)
			}
			m, _ := findMount(s, "/dev/shm")
			jsonEqual(t, m, tc.want)
		})
	}
}
