package cgroups

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The cgroup lines of this project's test host's /proc/self/mountinfo.
const hybridMountinfo = `23 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// A systemd distribution of the v1 era: co-mounted controllers, xattr.
const legacyMountinfo = `25 0 8:1 / / rw - ext4 /dev/sda1 rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/hugetlb rw - cgroup cgroup rw,hugetlb
37 30 0:33 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
`

// A unified host seen from inside a cgroup namespace rooted at /kubepods.
const unifiedMountinfo = `25 0 8:1 / / rw - ext4 /dev/sda1 rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want Host
	}{
		{
			name: "hybrid: v1 controllers, hugetlb only on cgroup2, swap accounting, no systemd",
			fs: fstest.MapFS{
				"proc/self/mountinfo":                              {Data: []byte(hybridMountinfo)},
				"sys/fs/cgroup/unified/cgroup.controllers":         {Data: []byte("hugetlb\n")},
				"sys/fs/cgroup/memory/memory.memsw.usage_in_bytes": {Data: []byte("0\n")},
				"sys/kernel/mm/hugepages/hugepages-2048kB/nr":      {},
				"sys/kernel/mm/hugepages/hugepages-1048576kB/nr":   {},
			},
			want: Host{
				Mode: ModeHybrid,
				V1: map[string]Mount{
					"cpu": {"/sys/fs/cgroup/cpu", "/"}, "cpuacct": {"/sys/fs/cgroup/cpuacct", "/"},
					"cpuset": {"/sys/fs/cgroup/cpuset", "/"}, "memory": {"/sys/fs/cgroup/memory", "/"},
					"devices": {"/sys/fs/cgroup/devices", "/"}, "freezer": {"/sys/fs/cgroup/freezer", "/"},
					"blkio": {"/sys/fs/cgroup/blkio", "/"}, "pids": {"/sys/fs/cgroup/pids", "/"},
					"name=systemd": {"/sys/fs/cgroup/systemd", "/"},
				},
				Unified:        Mount{"/sys/fs/cgroup/unified", "/"},
				Controllers:    []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "pids"},
				SwapAccounting: true,
				HugePageSizes:  []string{"2MB", "1GB"},
			},
		},
		{
			name: "legacy: co-mounted controllers, no memsw, systemd init",
			fs: fstest.MapFS{
				"proc/self/mountinfo":                        {Data: []byte(legacyMountinfo)},
				"sys/fs/cgroup/memory/memory.usage_in_bytes": {Data: []byte("0\n")},
				"sys/kernel/mm/hugepages/hugepages-2048kB":   {Mode: fs.ModeDir | 0o755},
				"run/systemd/system":                         {Mode: fs.ModeDir | 0o755},
			},
			want: Host{
				Mode: ModeLegacy,
				V1: map[string]Mount{
					"cpu": {"/sys/fs/cgroup/cpu,cpuacct", "/"}, "cpuacct": {"/sys/fs/cgroup/cpu,cpuacct", "/"},
					"memory": {"/sys/fs/cgroup/memory", "/"}, "hugetlb": {"/sys/fs/cgroup/hugetlb", "/"},
					"net_cls": {"/sys/fs/cgroup/net_cls,net_prio", "/"}, "net_prio": {"/sys/fs/cgroup/net_cls,net_prio", "/"},
					"name=systemd": {"/sys/fs/cgroup/systemd", "/"},
				},
				Controllers:   []string{"cpu", "cpuacct", "hugetlb", "memory", "net_cls", "net_prio"},
				HugePageSizes: []string{"2MB"},
				SystemdInit:   true,
			},
		},
		{
			name: "unified: swap found in the daemon's own cgroup",
			fs: fstest.MapFS{
				"proc/self/mountinfo":              {Data: []byte(unifiedMountinfo)},
				"proc/self/cgroup":                 {Data: []byte("0::/system.slice/logbookd.service\n")},
				"sys/fs/cgroup/cgroup.controllers": {Data: []byte("cpuset cpu io memory pids\n")},
				"sys/fs/cgroup/system.slice/logbookd.service/memory.swap.current": {Data: []byte("0\n")},
			},
			want: Host{
				Mode:           ModeUnified,
				V1:             map[string]Mount{},
				Unified:        Mount{"/sys/fs/cgroup", "/"},
				Controllers:    []string{"cpu", "cpuset", "io", "memory", "pids"},
				SwapAccounting: true,
			},
		},
		{
			name: "unified, daemon in the root cgroup: swap found in a child",
			fs: fstest.MapFS{
				"proc/self/mountinfo":                          {Data: []byte(unifiedMountinfo)},
				"proc/self/cgroup":                             {Data: []byte("0::/\n")},
				"sys/fs/cgroup/cgroup.controllers":             {Data: []byte("memory pids\n")},
				"sys/fs/cgroup/init.scope/memory.current":      {Data: []byte("0\n")},
				"sys/fs/cgroup/user.slice/memory.swap.current": {Data: []byte("0\n")},
			},
			want: Host{
				Mode:           ModeUnified,
				V1:             map[string]Mount{},
				Unified:        Mount{"/sys/fs/cgroup", "/"},
				Controllers:    []string{"memory", "pids"},
				SwapAccounting: true,
			},
		},
		{
			name: "unified without swap accounting",
			fs: fstest.MapFS{
				"proc/self/mountinfo":                     {Data: []byte(unifiedMountinfo)},
				"proc/self/cgroup":                        {Data: []byte("0::/\n")},
				"sys/fs/cgroup/cgroup.controllers":        {Data: []byte("memory\n")},
				"sys/fs/cgroup/init.scope/memory.current": {Data: []byte("0\n")},
			},
			want: Host{
				Mode:        ModeUnified,
				V1:          map[string]Mount{},
				Unified:     Mount{"/sys/fs/cgroup", "/"},
				Controllers: []string{"memory"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := detect(tt.fs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("detect:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDetectNoCgroups(t *testing.T) {
	_, err := detect(fstest.MapFS{"proc/self/mountinfo": {Data: []byte("25 0 8:1 / / rw - ext4 /dev/sda1 rw\n")}})
	if !errors.Is(err, ErrNoCgroups) {
		t.Errorf("err = %v, want ErrNoCgroups", err)
	}
	if _, err := detect(fstest.MapFS{}); err == nil {
		t.Error("detect without /proc/self/mountinfo succeeded")
	}
}

func TestSelectDriver(t *testing.T) {
	for _, tt := range []struct {
		name          string
		systemdInit   bool
		systemdCgroup bool
		want          Driver
		wantErr       error
		wantCRI       runtimeapi.CgroupDriver
	}{
		{"default cgroupfs", false, false, DriverCgroupfs, nil, runtimeapi.CgroupDriver_CGROUPFS},
		{"cgroupfs on a systemd host", true, false, DriverCgroupfs, nil, runtimeapi.CgroupDriver_CGROUPFS},
		{"systemd on a systemd host", true, true, DriverSystemd, nil, runtimeapi.CgroupDriver_SYSTEMD},
		{"systemd without systemd is refused", false, true, "", ErrSystemdUnavailable, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Host{SystemdInit: tt.systemdInit}.SelectDriver(tt.systemdCgroup)
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), `"systemd-cgroup"`) {
					t.Errorf("error %q does not name the config key to change", err)
				}
				return
			}
			if got != tt.want || got.CRI() != tt.wantCRI {
				t.Errorf("driver = %q (CRI %v), want %q (CRI %v)", got, got.CRI(), tt.want, tt.wantCRI)
			}
		})
	}
}

func TestParseDriver(t *testing.T) {
	for _, name := range []string{"cgroupfs", "systemd"} {
		if d, err := ParseDriver(name); err != nil || string(d) != name {
			t.Errorf("ParseDriver(%q) = %q, %v", name, d, err)
		}
	}
	if _, err := ParseDriver("systemd-cgroup"); !errors.Is(err, ErrUnknownDriver) {
		t.Errorf("ParseDriver(bad) = %v, want ErrUnknownDriver", err)
	}
}

func TestHugePageSizeName(t *testing.T) {
	for kb, want := range map[uint64]string{
		64: "64KB", 512: "512KB", 2048: "2MB", 32768: "32MB", 524288: "512MB", 1048576: "1GB", 16777216: "16GB",
	} {
		if got := HugePageSizeName(kb); got != want {
			t.Errorf("HugePageSizeName(%d) = %q, want %q", kb, got, want)
		}
		if got := pageSizeBytes(want); got != kb<<10 {
			t.Errorf("pageSizeBytes(%q) = %d, want %d", want, got, kb<<10)
		}
	}
	for _, bad := range []string{"", "MB", "0MB", "2TB", "xMB"} {
		if got := pageSizeBytes(bad); got != 0 {
			t.Errorf("pageSizeBytes(%q) = %d, want 0", bad, got)
		}
	}
}

func TestMountDir(t *testing.T) {
	for _, tt := range []struct {
		mount   Mount
		path    string
		want    string
		wantErr bool
	}{
		{Mount{"/sys/fs/cgroup/memory", "/"}, "/", "/sys/fs/cgroup/memory", false},
		{Mount{"/sys/fs/cgroup/memory", "/"}, "/process_api/f03b", "/sys/fs/cgroup/memory/process_api/f03b", false},
		{Mount{"/sys/fs/cgroup/memory", "/"}, "/a/../b", "/sys/fs/cgroup/memory/b", false},
		{Mount{"/sys/fs/cgroup", "/kubepods"}, "/kubepods/pod1", "/sys/fs/cgroup/pod1", false},
		{Mount{"/sys/fs/cgroup", "/kubepods"}, "/kubepods", "/sys/fs/cgroup", false},
		{Mount{"/sys/fs/cgroup", "/kubepods"}, "/kubepods-other/x", "", true},
		{Mount{"/sys/fs/cgroup", "/kubepods"}, "/", "", true},
		{Mount{"/sys/fs/cgroup", "/"}, "relative", "", true},
	} {
		got, err := tt.mount.Dir(tt.path)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%+v.Dir(%q) = %q, %v; want %q, error %v", tt.mount, tt.path, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalidPath) {
			t.Errorf("error %v is not ErrInvalidPath", err)
		}
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{ModeLegacy: "legacy", ModeHybrid: "hybrid", ModeUnified: "unified", 0: "unknown"} {
		if m.String() != want {
			t.Errorf("Mode(%d).String() = %q, want %q", m, m.String(), want)
		}
	}
}
