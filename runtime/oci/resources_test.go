package oci

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestCgroupsPath(t *testing.T) {
	systemd := Host{CgroupDriver: Systemd}
	for _, tc := range []struct {
		name   string
		host   Host
		parent string
		want   string
		err    error
	}{
		{name: "cgroupfs, critest empty parent", want: "/logbook/abc"},
		{name: "cgroupfs, host default parent", host: Host{DefaultCgroupParent: "/runtime"}, want: "/runtime/abc"},
		{name: "cgroupfs, kubelet parent", parent: "/kubepods/burstable/pod123", want: "/kubepods/burstable/pod123/abc"},
		{name: "cgroupfs, relative parent is rooted", parent: "kubepods", want: "/kubepods/abc"},
		{name: "cgroupfs refuses a slice", parent: "/test.slice", err: ErrInvalid},
		{name: "cgroupfs refuses a slice as the default", host: Host{DefaultCgroupParent: "x.slice"}, err: ErrBadInput},
		{name: "cgroupfs refuses ..", parent: "/kubepods/../../etc", err: ErrInvalid},
		{name: "systemd, critest /test.slice", host: systemd, parent: "/test.slice", want: "test.slice:logbook:abc"},
		{name: "systemd, nested slice", host: systemd, parent: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice", want: "kubepods-burstable-pod1.slice:logbook:abc"},
		{name: "systemd, bare slice", host: systemd, parent: "kubepods.slice", want: "kubepods.slice:logbook:abc"},
		{name: "systemd, empty parent", host: systemd, want: "system.slice:logbook:abc"},
		{name: "systemd refuses a cgroupfs path", host: systemd, parent: "/kubepods/pod1", err: ErrInvalid},
		{name: "systemd refuses a bare .slice", host: systemd, parent: ".slice", err: ErrInvalid},
		{name: "systemd refuses ':'", host: systemd, parent: "a:b.slice", err: ErrInvalid},
		{name: "unknown driver", host: Host{CgroupDriver: "cgroupfs2"}, err: ErrBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CgroupsPath(tc.host, tc.parent, "abc")
			wantErr(t, err, tc.err)
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLinuxResources(t *testing.T) {
	mib := int64(1 << 20)
	for _, tc := range []struct {
		name string
		r    *runtimeapi.LinuxContainerResources
		host Host
		want *specs.LinuxResources
		err  error
	}{
		{name: "nil", want: &specs.LinuxResources{}},
		{name: "zero means unset", r: &runtimeapi.LinuxContainerResources{}, want: &specs.LinuxResources{}},
		{name: "critest metrics pod", host: Host{SwapAccounting: true},
			r: &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 20000, CpuShares: 1024, MemoryLimitInBytes: 64 * mib, MemorySwapLimitInBytes: 64 * mib},
			want: &specs.LinuxResources{
				CPU:    &specs.LinuxCPU{Period: u64p(100000), Quota: i64p(20000), Shares: u64p(1024)},
				Memory: &specs.LinuxMemory{Limit: i64p(64 * mib), Swap: i64p(64 * mib)},
			}},
		{name: "memory limit alone forbids swap", host: Host{SwapAccounting: true}, r: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 15 * mib},
			want: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(15 * mib), Swap: i64p(15 * mib)}}},
		{name: "swap is memory+swap", host: Host{SwapAccounting: true}, r: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 15 * mib, MemorySwapLimitInBytes: 20 * mib},
			want: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(15 * mib), Swap: i64p(20 * mib)}}},
		{name: "unlimited swap", host: Host{SwapAccounting: true}, r: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 15 * mib, MemorySwapLimitInBytes: -1},
			want: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(15 * mib), Swap: i64p(-1)}}},
		{name: "no swap accounting: swap left out", r: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 15 * mib, MemorySwapLimitInBytes: 20 * mib},
			want: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(15 * mib)}}},
		{name: "cpusets and unlimited quota", r: &runtimeapi.LinuxContainerResources{CpusetCpus: "0-1,3", CpusetMems: "0", CpuQuota: -1},
			want: &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1,3", Mems: "0", Quota: i64p(-1)}}},
		{name: "hugepages", r: &runtimeapi.LinuxContainerResources{HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 4 * uint64(mib)}, {PageSize: "1GB"}}},
			want: &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 * uint64(mib)}, {Pagesize: "1GB"}}}},
		{name: "unified on v2", host: Host{CgroupV2: true}, r: &runtimeapi.LinuxContainerResources{Unified: map[string]string{"memory.high": "1000000", "io.weight": "default 100"}},
			want: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000", "io.weight": "default 100"}}},
		{name: "unified on v1", r: &runtimeapi.LinuxContainerResources{Unified: map[string]string{"memory.high": "1"}}, err: ErrUnsupported},
		{name: "unified bad key", host: Host{CgroupV2: true}, r: &runtimeapi.LinuxContainerResources{Unified: map[string]string{"../memory.max": "1"}}, err: ErrInvalid},
		{name: "negative period", r: &runtimeapi.LinuxContainerResources{CpuPeriod: -1}, err: ErrInvalid},
		{name: "negative quota", r: &runtimeapi.LinuxContainerResources{CpuQuota: -2}, err: ErrInvalid},
		{name: "negative shares", r: &runtimeapi.LinuxContainerResources{CpuShares: -2}, err: ErrInvalid},
		{name: "negative memory", r: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: -1}, err: ErrInvalid},
		{name: "swap below memory", r: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 2 * mib, MemorySwapLimitInBytes: mib}, err: ErrInvalid},
		{name: "swap without memory", r: &runtimeapi.LinuxContainerResources{MemorySwapLimitInBytes: mib}, err: ErrInvalid},
		{name: "swap below -1", r: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: mib, MemorySwapLimitInBytes: -2}, err: ErrInvalid},
		{name: "bad cpuset", r: &runtimeapi.LinuxContainerResources{CpusetCpus: "0-"}, err: ErrInvalid},
		{name: "bad mems", r: &runtimeapi.LinuxContainerResources{CpusetMems: "a"}, err: ErrInvalid},
		{name: "bad hugepage size", r: &runtimeapi.LinuxContainerResources{HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2M"}}}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LinuxResources(tc.r, tc.host, "linux.resources")
			wantErr(t, err, tc.err)
			if tc.err == nil {
				jsonEqual(t, got, tc.want)
			}
		})
	}
}

func TestOOMScoreAdj(t *testing.T) {
	restricted := Host{RestrictOOMScoreAdj: true, MinOOMScoreAdj: 0}
	for _, tc := range []struct {
		v    int64
		host Host
		want int
		err  error
	}{
		{v: 0, want: 0},
		{v: -998, want: -998},
		{v: 1000, want: 1000},
		{v: -998, host: restricted, want: 0},
		{v: 500, host: restricted, want: 500},
		{v: -500, host: Host{RestrictOOMScoreAdj: true, MinOOMScoreAdj: -100}, want: -100},
		{v: -1001, err: ErrInvalid},
		{v: 1001, err: ErrInvalid},
	} {
		got, err := OOMScoreAdj(tc.v, tc.host, "oom_score_adj")
		wantErr(t, err, tc.err)
		if got != tc.want {
			t.Errorf("OOMScoreAdj(%d, %+v) = %d, want %d", tc.v, tc.host, got, tc.want)
		}
	}
}

func TestContainerResourcesInSpec(t *testing.T) {
	in := testContainerInput()
	in.Host.RestrictOOMScoreAdj = true
	in.Host.PidsLimit = 4096
	in.Sandbox.Linux.CgroupParent = "/kubepods/pod1"
	in.Config.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 15 << 20, MemorySwapLimitInBytes: 15 << 20, OomScoreAdj: -5}
	s, _ := mustContainer(t, in)
	if s.Linux.CgroupsPath != "/kubepods/pod1/"+testContainerID {
		t.Fatalf("cgroups path %q", s.Linux.CgroupsPath)
	}
	jsonEqual(t, s.Linux.Resources, &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: i64p(15 << 20), Swap: i64p(15 << 20)},
		Pids:    &specs.LinuxPids{Limit: i64p(4096)},
	})
	if *s.Process.OOMScoreAdj != 0 {
		t.Fatalf("oom_score_adj %d, want clamped to 0", *s.Process.OOMScoreAdj)
	}
}
