package oci

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestSandboxSpec(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*SandboxInput)
		check func(*testing.T, *specs.Spec)
		err   error
	}{
		{name: "infra process defaults", check: func(t *testing.T, s *specs.Spec) {
			p := s.Process
			if s.Version != "1.0.2" || !slices.Equal(p.Args, []string{"/pause"}) || p.Cwd != "/" || !p.NoNewPrivileges || p.Terminal {
				t.Fatalf("process %+v", p)
			}
			if !slices.Equal(p.Env, []string{DefaultPathEnv}) {
				t.Fatalf("env %q", p.Env)
			}
			jsonEqual(t, p.User, specs.User{AdditionalGids: []uint32{0}})
			if len(p.Capabilities.Bounding)+len(p.Capabilities.Effective)+len(p.Capabilities.Permitted)+len(p.Capabilities.Ambient)+len(p.Capabilities.Inheritable) != 0 {
				t.Fatalf("pause must hold no capabilities: %+v", p.Capabilities)
			}
			if *p.OOMScoreAdj != -998 {
				t.Fatalf("oom_score_adj %d", *p.OOMScoreAdj)
			}
			jsonEqual(t, s.Root, &specs.Root{Path: "/var/lib/logbook/pause/rootfs", Readonly: true})
			if s.Linux.CgroupsPath != "/logbook/"+testSandboxID {
				t.Fatalf("cgroups path %q", s.Linux.CgroupsPath)
			}
			jsonEqual(t, s.Linux.Resources, &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
				CPU:     &specs.LinuxCPU{Shares: u64p(2)},
			})
			if s.Linux.Seccomp != nil || s.Linux.Sysctl != nil {
				t.Fatalf("seccomp %v sysctl %v", s.Linux.Seccomp, s.Linux.Sysctl)
			}
			if !slices.Equal(s.Linux.MaskedPaths, DefaultMaskedPaths()) || !slices.Equal(s.Linux.ReadonlyPaths, DefaultReadonlyPaths()) {
				t.Fatal("pause gets the default masked and read-only paths")
			}
			jsonEqual(t, s.Annotations, map[string]string{
				AnnotationContainerType: ContainerTypeSandbox, AnnotationSandboxID: testSandboxID,
				AnnotationSandboxName: "pod", AnnotationSandboxNamespace: "ns", AnnotationSandboxUID: "uid-1",
				AnnotationSandboxLogDir: "", AnnotationSandboxImageName: "",
			})
		}},
		{name: "restricted oom_score_adj is clamped", edit: func(in *SandboxInput) { in.Host.RestrictOOMScoreAdj = true }, check: func(t *testing.T, s *specs.Spec) {
			if *s.Process.OOMScoreAdj != 0 {
				t.Fatalf("oom_score_adj %d, want 0", *s.Process.OOMScoreAdj)
			}
		}},
		{name: "pod user, group and supplemental groups", edit: func(in *SandboxInput) {
			sc := podSC(in.Config)
			sc.RunAsUser, sc.RunAsGroup, sc.SupplementalGroups = i64(65535), i64(65535), []int64{5, 5, 1}
		}, check: func(t *testing.T, s *specs.Spec) {
			jsonEqual(t, s.Process.User, specs.User{UID: 65535, GID: 65535, AdditionalGids: []uint32{1, 5, 65535}})
		}},
		{name: "pod seccomp runtime default, without capability rules", edit: func(in *SandboxInput) {
			podSC(in.Config).Seccomp = &runtimeapi.SecurityProfile{}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || hasSyscall(s.Linux.Seccomp, "mount", specs.ActAllow) {
				t.Fatalf("seccomp %+v", s.Linux.Seccomp)
			}
		}},
		{name: "legacy pod seccomp path", edit: func(in *SandboxInput) { podSC(in.Config).SeccompProfilePath = "runtime/default" }, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil {
				t.Fatal("want the default profile")
			}
		}},
		{name: "privileged pod: no seccomp", edit: func(in *SandboxInput) {
			podSC(in.Config).Privileged = true
			podSC(in.Config).Seccomp = &runtimeapi.SecurityProfile{}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Fatal("privileged pod must not be filtered")
			}
		}},
		{name: "overhead is the infra cgroup's limit, resources become annotations", edit: func(in *SandboxInput) {
			in.Config.Linux.Overhead = &runtimeapi.LinuxContainerResources{CpuShares: 10, MemoryLimitInBytes: 32 << 20}
			in.Config.Linux.Resources = &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 512, MemoryLimitInBytes: 1 << 30}
			in.Config.LogDirectory = "/var/log/pods/ns_pod_uid-1"
			in.ImageName = "registry.k8s.io/pause:3.9"
		}, check: func(t *testing.T, s *specs.Spec) {
			jsonEqual(t, s.Linux.Resources, &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
				CPU:     &specs.LinuxCPU{Shares: u64p(10)},
				Memory:  &specs.LinuxMemory{Limit: i64p(32 << 20), Swap: i64p(32 << 20)},
			})
			for k, v := range map[string]string{
				AnnotationSandboxCPUPeriod: "100000", AnnotationSandboxCPUQuota: "50000", AnnotationSandboxCPUShares: "512",
				AnnotationSandboxMemory: "1073741824", AnnotationSandboxLogDir: "/var/log/pods/ns_pod_uid-1",
				AnnotationSandboxImageName: "registry.k8s.io/pause:3.9",
			} {
				if s.Annotations[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, s.Annotations[k], v)
				}
			}
		}},
		{name: "custom infra args and cgroup parent", edit: func(in *SandboxInput) {
			in.Args = []string{"/bin/sleep", "inf"}
			in.Config.Linux.CgroupParent = "/kubepods/besteffort/poduid-1"
			in.Host.PidsLimit = 100
		}, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.Args, []string{"/bin/sleep", "inf"}) || s.Linux.CgroupsPath != "/kubepods/besteffort/poduid-1/"+testSandboxID {
				t.Fatalf("args %q cgroups %q", s.Process.Args, s.Linux.CgroupsPath)
			}
			if s.Linux.Resources.Pids == nil || *s.Linux.Resources.Pids.Limit != 100 {
				t.Fatal("pids limit")
			}
		}},
		{name: "systemd cgroup", edit: func(in *SandboxInput) {
			in.Host.CgroupDriver = Systemd
			in.Config.Linux.CgroupParent = "/test.slice"
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.CgroupsPath != "test.slice:logbook:"+testSandboxID {
				t.Fatalf("cgroups path %q", s.Linux.CgroupsPath)
			}
		}},
		{name: "critest systemd parent with cgroupfs", edit: func(in *SandboxInput) { in.Config.Linux.CgroupParent = "/test.slice" }, err: ErrInvalid},
		{name: "run_as_group without run_as_user", edit: func(in *SandboxInput) { podSC(in.Config).RunAsGroup = i64(1) }, err: ErrInvalid},
		{name: "negative run_as_user", edit: func(in *SandboxInput) { podSC(in.Config).RunAsUser = i64(-1) }, err: ErrInvalid},
		{name: "negative supplemental group", edit: func(in *SandboxInput) { podSC(in.Config).SupplementalGroups = []int64{-3} }, err: ErrInvalid},
		{name: "hostname too long", edit: func(in *SandboxInput) { in.Config.Hostname = string(make([]byte, 65)) }, err: ErrInvalid},
		{name: "bad overhead", edit: func(in *SandboxInput) { in.Config.Linux.Overhead = &runtimeapi.LinuxContainerResources{CpuShares: -1} }, err: ErrInvalid},
		{name: "localhost seccomp not provided", edit: func(in *SandboxInput) {
			podSC(in.Config).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/p.json"}
		}, err: ErrBadInput},
		{name: "no config", edit: func(in *SandboxInput) { in.Config = nil }, err: ErrBadInput},
		{name: "relative rootfs", edit: func(in *SandboxInput) { in.Rootfs = "rootfs" }, err: ErrBadInput},
		{name: "bad id", edit: func(in *SandboxInput) { in.ID = "../x" }, err: ErrBadInput},
		{name: "relative shm", edit: func(in *SandboxInput) { in.ShmPath = "shm" }, err: ErrBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testSandboxInput()
			if tc.edit != nil {
				tc.edit(&in)
			}
			s, err := SandboxSpec(in)
			wantErr(t, err, tc.err)
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}
