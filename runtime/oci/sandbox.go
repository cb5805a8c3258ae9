package oci

import (
	"path"
	"regexp"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// defaultMaskedPaths and defaultReadonlyPaths are containerd's: the parts
// of /proc and /sys that leak the host's state or configure its kernel.
var (
	defaultMaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/sys/firmware", "/sys/devices/virtual/powercap",
		"/proc/scsi",
	}
	defaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// DefaultMaskedPaths returns the paths masked in a container that asks for
// none and is not privileged.
func DefaultMaskedPaths() []string { return slices.Clone(defaultMaskedPaths) }

// DefaultReadonlyPaths returns the paths made read-only in a container that
// asks for none and is not privileged.
func DefaultReadonlyPaths() []string { return slices.Clone(defaultReadonlyPaths) }

// DefaultSandboxArgs runs the built-in pause binary.
var defaultSandboxArgs = []string{"/pause"}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func checkID(what, id string) error {
	if !idRE.MatchString(id) {
		return badInputf("%s %q is not an id (1-128 of [A-Za-z0-9_.-])", what, id)
	}
	return nil
}

func checkHostname(h string) error {
	if len(h) > 64 || strings.ContainsAny(h, "\x00/\n") {
		return invalidf("hostname %q is longer than 64 bytes or contains NUL, '/' or newline", h)
	}
	return nil
}

// SandboxSpec describes a pod's infra process: the built-in pause binary in
// a read-only rootfs, holding the pod's namespaces for its containers to
// join. It runs with no capabilities and no_new_privs (it only waits and
// reaps), as run_as_user:run_as_group or root, under the pod's seccomp
// profile, in the pod's cgroup parent with the pod overhead as its
// resources, and last in line for the OOM killer. Pod sysctls are set here,
// in the namespaces the pod owns.
func SandboxSpec(in SandboxInput) (*specs.Spec, error) {
	if err := checkID("sandbox id", in.ID); err != nil {
		return nil, err
	}
	if in.Config == nil {
		return nil, badInputf("no pod sandbox config")
	}
	if !path.IsAbs(in.Rootfs) {
		return nil, badInputf("sandbox rootfs %q is not an absolute path", in.Rootfs)
	}
	args := in.Args
	if len(args) == 0 {
		args = defaultSandboxArgs
	}
	var (
		cfg    = in.Config
		sc     = cfg.GetLinux().GetSecurityContext()
		nsOpts = sc.GetNamespaceOptions()
	)
	hostNet := nsOpts.GetNetwork() == runtimeapi.NamespaceMode_NODE
	hostIPC := nsOpts.GetIpc() == runtimeapi.NamespaceMode_NODE

	ns, err := sandboxNamespaces(nsOpts, in.NetNSPath, in.Host.CgroupV2)
	if err != nil {
		return nil, err
	}
	hostname := ""
	if !hostNet {
		if err := checkHostname(cfg.GetHostname()); err != nil {
			return nil, err
		}
		hostname = cfg.GetHostname()
	}
	sysctls, err := SandboxSysctls(cfg.GetLinux().GetSysctls(), hostNet, hostIPC)
	if err != nil {
		return nil, err
	}

	if sc.GetRunAsGroup() != nil && sc.GetRunAsUser() == nil {
		return nil, invalidf("linux.security_context.run_as_group is set without run_as_user")
	}
	var user specs.User
	if u := sc.GetRunAsUser(); u != nil {
		uid, ok := int64ID(u.GetValue())
		if !ok {
			return nil, invalidf("linux.security_context.run_as_user %d is not a valid uid", u.GetValue())
		}
		user.UID = uid
	}
	if g := sc.GetRunAsGroup(); g != nil {
		gid, ok := int64ID(g.GetValue())
		if !ok {
			return nil, invalidf("linux.security_context.run_as_group %d is not a valid gid", g.GetValue())
		}
		user.GID = gid
	}
	groups := []uint32{user.GID}
	for i, g := range sc.GetSupplementalGroups() {
		gid, ok := int64ID(g)
		if !ok {
			return nil, invalidf("linux.security_context.supplemental_groups[%d] %d is not a valid gid", i, g)
		}
		groups = append(groups, gid)
	}
	slices.Sort(groups)
	user.AdditionalGids = slices.Compact(groups)

	// The infra process holds no capabilities, so capability-conditional
	// seccomp rules are left out too.
	noCaps := &specs.LinuxCapabilities{Bounding: []string{}, Effective: []string{}, Permitted: []string{}}
	seccompProfile, err := seccompFor(sc.GetSeccomp(), sc.GetSeccompProfilePath(), "linux.security_context",
		sc.GetPrivileged(), in.SeccompProfiles, in.Host, nil)
	if err != nil {
		return nil, err
	}
	oom, err := OOMScoreAdj(SandboxOOMScoreAdj, in.Host, "sandbox oom_score_adj")
	if err != nil {
		return nil, err
	}
	cgroupsPath, err := CgroupsPath(in.Host, cfg.GetLinux().GetCgroupParent(), in.ID)
	if err != nil {
		return nil, err
	}
	resources, err := LinuxResources(cfg.GetLinux().GetOverhead(), in.Host, "linux.overhead")
	if err != nil {
		return nil, err
	}
	if resources.CPU == nil {
		resources.CPU = &specs.LinuxCPU{}
	}
	if resources.CPU.Shares == nil {
		shares := uint64(SandboxCPUShares)
		resources.CPU.Shares = &shares
	}
	resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	withPidsLimit(resources, in.Host)

	mounts, err := sandboxMounts(in.ShmPath, hostIPC)
	if err != nil {
		return nil, err
	}
	return &specs.Spec{
		Version: OCIVersion,
		Process: &specs.Process{
			Args:            slices.Clone(args),
			Env:             []string{DefaultPathEnv},
			Cwd:             "/",
			User:            user,
			Capabilities:    noCaps,
			NoNewPrivileges: true,
			OOMScoreAdj:     &oom,
		},
		Root:        &specs.Root{Path: in.Rootfs, Readonly: true},
		Hostname:    hostname,
		Mounts:      mounts,
		Annotations: sandboxAnnotations(in.ID, in.ImageName, cfg),
		Linux: &specs.Linux{
			Namespaces:    ns,
			CgroupsPath:   cgroupsPath,
			Resources:     resources,
			Sysctl:        sysctls,
			Seccomp:       seccompProfile,
			MaskedPaths:   DefaultMaskedPaths(),
			ReadonlyPaths: DefaultReadonlyPaths(),
		},
	}, nil
}
