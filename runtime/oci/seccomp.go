package oci

import (
	"encoding/json"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// SeccompKind is what a request's seccomp settings amount to.
type SeccompKind int

const (
	// SeccompUnconfined: no filter.
	SeccompUnconfined SeccompKind = iota
	// SeccompRuntimeDefault: moby's default profile (DefaultSeccomp).
	SeccompRuntimeDefault
	// SeccompLocalhost: a profile file on the node, in Docker's format.
	SeccompLocalhost
)

// Deprecated seccomp_profile_path spellings.
const (
	seccompPathRuntimeDefault = "runtime/default"
	seccompPathDockerDefault  = "docker/default"
	seccompPathUnconfined     = "unconfined"
	seccompPathLocalhost      = "localhost/"
)

// ResolveSeccomp reads a security context's seccomp settings: the
// SecurityProfile field when set (its zero value is RuntimeDefault), else
// the deprecated seccomp_profile_path, where "" means unconfined. For
// Localhost the second result is the profile's path (absolute).
func ResolveSeccomp(sp *runtimeapi.SecurityProfile, legacyPath, field string) (SeccompKind, string, error) {
	if sp != nil {
		switch sp.GetProfileType() {
		case runtimeapi.SecurityProfile_RuntimeDefault:
			return SeccompRuntimeDefault, "", nil
		case runtimeapi.SecurityProfile_Unconfined:
			return SeccompUnconfined, "", nil
		case runtimeapi.SecurityProfile_Localhost:
			ref := sp.GetLocalhostRef()
			if !path.IsAbs(ref) || strings.IndexByte(ref, 0) >= 0 {
				return 0, "", invalidf("%s.seccomp.localhost_ref %q is not an absolute path", field, ref)
			}
			return SeccompLocalhost, ref, nil
		default:
			return 0, "", invalidf("%s.seccomp.profile_type %d is unknown", field, int32(sp.GetProfileType()))
		}
	}
	switch {
	case legacyPath == "" || legacyPath == seccompPathUnconfined:
		return SeccompUnconfined, "", nil
	case legacyPath == seccompPathRuntimeDefault || legacyPath == seccompPathDockerDefault:
		return SeccompRuntimeDefault, "", nil
	case strings.HasPrefix(legacyPath, seccompPathLocalhost):
		ref := strings.TrimPrefix(legacyPath, seccompPathLocalhost)
		if !path.IsAbs(ref) || strings.IndexByte(ref, 0) >= 0 {
			return 0, "", invalidf("%s.seccomp_profile_path %q: the localhost profile is not an absolute path", field, legacyPath)
		}
		return SeccompLocalhost, ref, nil
	default:
		return 0, "", invalidf("%s.seccomp_profile_path %q is not runtime/default, docker/default, unconfined or localhost/<path>", field, legacyPath)
	}
}

// seccompFor builds the seccomp section of a spec. Privileged processes get
// none, whatever was asked. bounding is the process's bounding set: the
// default profile allows some syscalls only to holders of a capability.
func seccompFor(sp *runtimeapi.SecurityProfile, legacyPath, field string, privileged bool,
	profiles map[string][]byte, host Host, bounding []string) (*specs.LinuxSeccomp, error) {
	if privileged {
		return nil, nil
	}
	kind, ref, err := ResolveSeccomp(sp, legacyPath, field)
	if err != nil {
		return nil, err
	}
	switch kind {
	case SeccompRuntimeDefault:
		return DefaultSeccomp(host, bounding)
	case SeccompLocalhost:
		data, ok := profiles[ref]
		if !ok {
			return nil, badInputf("%s: the content of seccomp profile %q was not provided", field, ref)
		}
		prof, err := LoadSeccomp(data, host, bounding)
		if err != nil {
			return nil, within(fmt.Sprintf("%s.seccomp: profile %q", field, ref), err)
		}
		return prof, nil
	default:
		return nil, nil
	}
}

// DefaultSeccomp is the RuntimeDefault profile: moby's default profile
// (github.com/moby/profiles/seccomp) specialised for the host's
// architecture and kernel and for the process's bounding capabilities.
func DefaultSeccomp(host Host, bounding []string) (*specs.LinuxSeccomp, error) {
	return convertSeccomp(seccomp.DefaultProfile(), host, bounding)
}

// LoadSeccomp parses a profile in Docker's JSON format (the format of
// Localhost profiles; "architectures" may be missing, meaning the native
// one only) and specialises it like DefaultSeccomp.
func LoadSeccomp(data []byte, host Host, bounding []string) (*specs.LinuxSeccomp, error) {
	var p seccomp.Seccomp
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, invalidf("not a seccomp profile in Docker's JSON format: %v", err)
	}
	return convertSeccomp(&p, host, bounding)
}

// libseccompArch maps GOARCH to the architecture names of profile
// conditions ("arches": [...]), which are libseccomp's.
var libseccompArch = map[string]string{
	"386": "x86", "amd64": "amd64", "arm": "arm", "arm64": "arm64",
	"loong64": "loongarch64", "mips64": "mips64", "mips64le": "mipsel64",
	"mipsle": "mipsel", "ppc": "ppc", "ppc64": "ppc64", "ppc64le": "ppc64le",
	"riscv64": "riscv64", "s390": "s390", "s390x": "s390x",
}

// nativeSeccompArch maps GOARCH to the SCMP_ARCH_ constant of the native
// architecture, to pick the entry of a profile's archMap.
var nativeSeccompArch = map[string]specs.Arch{
	"386": specs.ArchX86, "amd64": specs.ArchX86_64, "arm": specs.ArchARM,
	"arm64": specs.ArchAARCH64, "loong64": specs.ArchLOONGARCH64,
	"mips64": specs.ArchMIPS64, "mips64le": specs.ArchMIPSEL64, "mipsle": specs.ArchMIPSEL,
	"ppc": specs.ArchPPC, "ppc64": specs.ArchPPC64, "ppc64le": specs.ArchPPC64LE,
	"riscv64": specs.ArchRISCV64, "s390": specs.ArchS390, "s390x": specs.ArchS390X,
}

// What runc 1.1.5 (libseccomp 2.5) accepts; anything else fails at start,
// so it is refused at create instead.
var (
	runcSeccompArches = []specs.Arch{
		specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
		specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
		specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchRISCV64,
	}
	runcSeccompActions = []specs.LinuxSeccompAction{
		specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
		specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
	}
	runcSeccompOperators = []specs.LinuxSeccompOperator{
		specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
	}
	runcSeccompFlags = []specs.LinuxSeccompFlag{
		specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC",
	}
)

// kernelVersion is "major.minor" of a kernel release; ok is false when the
// release was not given or does not parse, which this package reads as "a
// kernel new enough for every condition".
type kernelVersion struct {
	major, minor uint64
	ok           bool
}

func parseKernelRelease(rel string) kernelVersion {
	var k kernelVersion
	if _, err := fmt.Sscanf(rel, "%d.%d", &k.major, &k.minor); err != nil {
		return kernelVersion{}
	}
	k.ok = true
	return k
}

func (k kernelVersion) atLeast(v *seccomp.KernelVersion) bool {
	if !k.ok {
		return true
	}
	return k.major > v.Kernel || (k.major == v.Kernel && k.minor >= v.Major)
}

// convertSeccomp turns a profile in moby's format, whose rules may be
// conditional on architecture, capabilities and kernel version, into the
// plain list runc wants. It is moby's setupSeccomp made pure: the kernel
// version and architecture come from Host rather than from uname, and the
// input is left untouched.
func convertSeccomp(p *seccomp.Seccomp, host Host, bounding []string) (*specs.LinuxSeccomp, error) {
	goarch := host.Arch
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	arch := libseccompArch[goarch]
	kernel := parseKernelRelease(host.KernelRelease)

	if p.DefaultAction == "" {
		return nil, invalidf("defaultAction is missing")
	}
	if !slices.Contains(runcSeccompActions, p.DefaultAction) {
		return nil, invalidf("defaultAction %q is not a seccomp action runc knows", p.DefaultAction)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return nil, invalidf("both architectures and archMap are set")
	}
	if len(p.LinuxSeccomp.Syscalls) > 0 {
		return nil, invalidf("syscalls set on the embedded runtime-spec profile")
	}
	out := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  cloneUint(p.DefaultErrnoRet),
		Architectures:    slices.Clone(p.Architectures),
		Flags:            slices.Clone(p.Flags),
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	if native, ok := nativeSeccompArch[goarch]; ok {
		for _, a := range p.ArchMap {
			if a.Arch == native {
				out.Architectures = append(append(out.Architectures, a.Arch), a.SubArches...)
				break
			}
		}
	}
	for _, a := range out.Architectures {
		if !slices.Contains(runcSeccompArches, a) {
			return nil, unsupportedf("seccomp architecture %q is unknown to runc 1.1", a)
		}
	}
	for _, f := range out.Flags {
		if !slices.Contains(runcSeccompFlags, f) {
			return nil, unsupportedf("seccomp flag %q is unknown to runc 1.1", f)
		}
	}

	for i, call := range p.Syscalls {
		if call == nil {
			continue
		}
		names := slices.Clone(call.Names)
		if call.Name != "" {
			if len(names) > 0 {
				return nil, invalidf("syscalls[%d]: both name and names are set", i)
			}
			names = []string{call.Name}
		}
		if len(names) == 0 || slices.Contains(names, "") {
			return nil, invalidf("syscalls[%d]: no syscall named", i)
		}
		if !slices.Contains(runcSeccompActions, call.Action) {
			return nil, invalidf("syscalls[%d]: action %q is not a seccomp action runc knows", i, call.Action)
		}
		for j, a := range call.Args {
			if !slices.Contains(runcSeccompOperators, a.Op) {
				return nil, invalidf("syscalls[%d].args[%d]: operator %q is unknown", i, j, a.Op)
			}
		}
		if !ruleApplies(call, arch, kernel, bounding) {
			continue
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{
			Names:    names,
			Action:   call.Action,
			ErrnoRet: cloneUint(call.ErrnoRet),
			Args:     slices.Clone(call.Args),
		})
	}
	return out, nil
}

// ruleApplies evaluates a rule's includes (all must hold) and excludes (any
// one drops the rule).
func ruleApplies(call *seccomp.Syscall, arch string, kernel kernelVersion, bounding []string) bool {
	if ex := call.Excludes; ex != nil {
		if slices.Contains(ex.Arches, arch) {
			return false
		}
		for _, c := range ex.Caps {
			if slices.Contains(bounding, c) {
				return false
			}
		}
		if ex.MinKernel != nil && kernel.atLeast(ex.MinKernel) {
			return false
		}
	}
	if in := call.Includes; in != nil {
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, arch) {
			return false
		}
		for _, c := range in.Caps {
			if !slices.Contains(bounding, c) {
				return false
			}
		}
		if in.MinKernel != nil && !kernel.atLeast(in.MinKernel) {
			return false
		}
	}
	return true
}

func cloneUint(p *uint) *uint {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
