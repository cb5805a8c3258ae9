package oci

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The critest profiles: Docker format, no "architectures".
const (
	blockHostNameProfile = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"sethostname","action":"SCMP_ACT_ERRNO"}]}`
	blockChmodProfile    = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod","fchmodat"],"action":"SCMP_ACT_ERRNO"}]}`
)

func TestResolveSeccomp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sp     *runtimeapi.SecurityProfile
		legacy string
		kind   SeccompKind
		ref    string
		err    error
	}{
		{name: "nil and empty: unconfined", kind: SeccompUnconfined},
		{name: "zero profile: runtime default", sp: &runtimeapi.SecurityProfile{}, kind: SeccompRuntimeDefault},
		{name: "unconfined", sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, kind: SeccompUnconfined},
		{name: "localhost", sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/tmp/p.json"}, kind: SeccompLocalhost, ref: "/tmp/p.json"},
		{name: "field wins over legacy", sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, legacy: "runtime/default", kind: SeccompUnconfined},
		{name: "legacy runtime/default", legacy: "runtime/default", kind: SeccompRuntimeDefault},
		{name: "legacy docker/default", legacy: "docker/default", kind: SeccompRuntimeDefault},
		{name: "legacy unconfined", legacy: "unconfined", kind: SeccompUnconfined},
		{name: "legacy localhost", legacy: "localhost//var/lib/p.json", kind: SeccompLocalhost, ref: "/var/lib/p.json"},
		{name: "localhost with relative ref", sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "p.json"}, err: ErrInvalid},
		{name: "localhost with empty ref", sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost}, err: ErrInvalid},
		{name: "legacy localhost relative", legacy: "localhost/p.json", err: ErrInvalid},
		{name: "legacy garbage", legacy: "strict", err: ErrInvalid},
		{name: "unknown type", sp: &runtimeapi.SecurityProfile{ProfileType: 9}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, ref, err := ResolveSeccomp(tc.sp, tc.legacy, "linux.security_context")
			wantErr(t, err, tc.err)
			if tc.err == nil && (kind != tc.kind || ref != tc.ref) {
				t.Fatalf("got %v %q, want %v %q", kind, ref, tc.kind, tc.ref)
			}
		})
	}
}

func hasSyscall(p *specs.LinuxSeccomp, name string, action specs.LinuxSeccompAction) bool {
	for _, s := range p.Syscalls {
		if s.Action == action && slices.Contains(s.Names, name) {
			return true
		}
	}
	return false
}

func TestDefaultSeccomp(t *testing.T) {
	host := testHost()
	plain, err := DefaultSeccomp(host, DefaultCapabilities())
	if err != nil {
		t.Fatal(err)
	}
	if plain.DefaultAction != specs.ActErrno || plain.DefaultErrnoRet == nil || *plain.DefaultErrnoRet != 1 {
		t.Fatalf("default action %q errno %v, want SCMP_ACT_ERRNO with EPERM", plain.DefaultAction, plain.DefaultErrnoRet)
	}
	if !slices.Equal(plain.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Fatalf("architectures = %q", plain.Architectures)
	}
	for _, tc := range []struct {
		name    string
		host    func(*Host)
		caps    []string
		syscall string
		allowed bool
	}{
		{name: "read is always allowed", syscall: "read", allowed: true},
		{name: "mount needs SYS_ADMIN", syscall: "mount", allowed: false},
		{name: "mount with SYS_ADMIN", caps: []string{"CAP_SYS_ADMIN"}, syscall: "mount", allowed: true},
		{name: "reboot needs SYS_BOOT", syscall: "reboot", allowed: false},
		{name: "reboot with SYS_BOOT", caps: []string{"CAP_SYS_BOOT"}, syscall: "reboot", allowed: true},
		{name: "arch_prctl only on amd64", syscall: "arch_prctl", allowed: true},
		{name: "arch_prctl not on arm64", host: func(h *Host) { h.Arch = "arm64" }, syscall: "arch_prctl", allowed: false},
		{name: "ptrace from 4.8", syscall: "ptrace", allowed: true},
		{name: "no ptrace before 4.8", host: func(h *Host) { h.KernelRelease = "4.4.0-generic" }, syscall: "ptrace", allowed: false},
		{name: "unknown kernel counts as new", host: func(h *Host) { h.KernelRelease = "" }, syscall: "ptrace", allowed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := testHost()
			if tc.host != nil {
				tc.host(&h)
			}
			p, err := DefaultSeccomp(h, append(DefaultCapabilities(), tc.caps...))
			if err != nil {
				t.Fatal(err)
			}
			if got := hasSyscall(p, tc.syscall, specs.ActAllow); got != tc.allowed {
				t.Fatalf("%s allowed = %v, want %v", tc.syscall, got, tc.allowed)
			}
		})
	}
	arm, _ := DefaultSeccomp(Host{Arch: "arm64"}, nil)
	if !slices.Equal(arm.Architectures, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}) {
		t.Fatalf("arm64 architectures = %q", arm.Architectures)
	}
}

func TestLoadSeccomp(t *testing.T) {
	host := testHost()
	for _, tc := range []struct {
		name  string
		data  string
		check func(*testing.T, *specs.LinuxSeccomp)
		err   error
	}{
		{name: "critest block-host-name (legacy name, no architectures)", data: blockHostNameProfile, check: func(t *testing.T, p *specs.LinuxSeccomp) {
			if p.DefaultAction != specs.ActAllow || len(p.Architectures) != 0 || !hasSyscall(p, "sethostname", specs.ActErrno) || len(p.Syscalls) != 1 {
				t.Fatalf("profile = %+v", p)
			}
		}},
		{name: "critest block-chmod", data: blockChmodProfile, check: func(t *testing.T, p *specs.LinuxSeccomp) {
			if !hasSyscall(p, "chmod", specs.ActErrno) || !hasSyscall(p, "fchmodat", specs.ActErrno) {
				t.Fatalf("profile = %+v", p)
			}
		}},
		{name: "architectures kept", data: `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`,
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64}) {
					t.Fatalf("architectures = %q", p.Architectures)
				}
			}},
		{name: "conditional rules evaluated", data: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
			{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
			{"names":["b"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_KILL"]}},
			{"names":["c"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64"],"minKernel":"5.1"}}]}`,
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if hasSyscall(p, "a", specs.ActAllow) || hasSyscall(p, "b", specs.ActAllow) || !hasSyscall(p, "c", specs.ActAllow) {
					t.Fatalf("syscalls = %+v", p.Syscalls)
				}
			}},
		{name: "not JSON", data: `{`, err: ErrInvalid},
		{name: "no default action", data: `{"syscalls":[]}`, err: ErrInvalid},
		{name: "unknown default action", data: `{"defaultAction":"SCMP_ACT_PANIC"}`, err: ErrInvalid},
		{name: "unknown syscall action", data: `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"NOPE"}]}`, err: ErrInvalid},
		{name: "name and names", data: `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"x","names":["y"],"action":"SCMP_ACT_ERRNO"}]}`, err: ErrInvalid},
		{name: "rule without a name", data: `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}`, err: ErrInvalid},
		{name: "unknown operator", data: `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ALMOST"}]}]}`, err: ErrInvalid},
		{name: "architectures and archMap", data: `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`, err: ErrInvalid},
		{name: "architecture runc 1.1 does not know", data: `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_LOONGARCH64"]}`, err: ErrUnsupported},
		{name: "flag runc 1.1 does not know", data: `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}`, err: ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadSeccomp([]byte(tc.data), host, DefaultCapabilities())
			wantErr(t, err, tc.err)
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestContainerSeccomp(t *testing.T) {
	profiles := map[string][]byte{"/tmp/seccomp-tests/block-host-name.json": []byte(blockHostNameProfile)}
	localhost := &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/tmp/seccomp-tests/block-host-name.json"}
	for _, tc := range []struct {
		name       string
		sp         *runtimeapi.SecurityProfile
		legacy     string
		privileged bool
		profiles   map[string][]byte
		want       string // "", "default" or "localhost"
		err        error
		msg        string // prefix of the error message
	}{
		{name: "critest nil profile: unconfined"},
		{name: "critest unconfined", sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}},
		{name: "critest runtime default", sp: &runtimeapi.SecurityProfile{}, want: "default"},
		{name: "legacy docker/default", legacy: "docker/default", want: "default"},
		{name: "critest localhost", sp: localhost, profiles: profiles, want: "localhost"},
		{name: "critest privileged ignores the profile", sp: localhost, privileged: true},
		{name: "privileged ignores runtime default", sp: &runtimeapi.SecurityProfile{}, privileged: true},
		{name: "profile content not provided", sp: localhost, err: ErrBadInput},
		{name: "bad profile content", sp: localhost, profiles: map[string][]byte{localhost.LocalhostRef: []byte("[]")}, err: ErrInvalid,
			msg: `invalid argument: linux.security_context.seccomp: profile "/tmp/seccomp-tests/block-host-name.json": not a seccomp profile`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testContainerInput()
			in.SeccompProfiles = tc.profiles
			sc(&in).Seccomp = tc.sp
			sc(&in).SeccompProfilePath = tc.legacy
			sc(&in).Privileged = tc.privileged
			podSC(in.Sandbox).Privileged = tc.privileged
			s, _, err := ContainerSpec(in)
			wantErr(t, err, tc.err)
			if tc.err != nil {
				if !strings.HasPrefix(err.Error(), tc.msg) {
					t.Fatalf("error %q does not start with %q", err, tc.msg)
				}
				return
			}
			p := s.Linux.Seccomp
			switch tc.want {
			case "":
				if p != nil {
					t.Fatalf("seccomp = %+v, want none", p)
				}
			case "default":
				if p == nil || p.DefaultAction != specs.ActErrno || !hasSyscall(p, "read", specs.ActAllow) {
					t.Fatalf("seccomp = %+v, want the default profile", p)
				}
			case "localhost":
				if p == nil || p.DefaultAction != specs.ActAllow || !hasSyscall(p, "sethostname", specs.ActErrno) {
					t.Fatalf("seccomp = %+v, want block-host-name", p)
				}
			}
		})
	}
}
