package oci

import (
	"path"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerSpec describes a workload container of a pod, and returns the
// identity its first process starts with (what ContainerStatus.user
// reports). It validates everything it reads: an error wraps ErrInvalid or
// ErrUnsupported for a request the runtime must refuse, ErrBadInput for
// facts the caller failed to provide.
func ContainerSpec(in ContainerInput) (*specs.Spec, User, error) {
	if err := checkID("container id", in.ID); err != nil {
		return nil, User{}, err
	}
	if err := checkID("sandbox id", in.SandboxID); err != nil {
		return nil, User{}, err
	}
	if in.Config == nil || in.Sandbox == nil {
		return nil, User{}, badInputf("container or pod sandbox config missing")
	}
	if !path.IsAbs(in.Rootfs) {
		return nil, User{}, badInputf("container rootfs %q is not an absolute path", in.Rootfs)
	}
	var (
		cfg        = in.Config
		pod        = in.Sandbox
		sc         = cfg.GetLinux().GetSecurityContext()
		nsOpts     = sc.GetNamespaceOptions()
		podNsOpts  = pod.GetLinux().GetSecurityContext().GetNamespaceOptions()
		privileged = sc.GetPrivileged()
	)
	if cfg.GetMetadata().GetName() == "" {
		return nil, User{}, invalidf("metadata.name is empty")
	}
	if privileged && !pod.GetLinux().GetSecurityContext().GetPrivileged() {
		return nil, User{}, invalidf("linux.security_context.privileged: the pod sandbox is not privileged")
	}

	args, err := ProcessArgs(cfg.GetCommand(), cfg.GetArgs(), in.Image.Config)
	if err != nil {
		return nil, User{}, err
	}
	cwd, err := WorkingDir(cfg.GetWorkingDir(), in.Image.Config.WorkingDir)
	if err != nil {
		return nil, User{}, err
	}
	hostNet := nsOpts.GetNetwork() == runtimeapi.NamespaceMode_NODE
	hostname := pod.GetHostname()
	if hostNet && hostname == "" {
		hostname = in.Host.NodeHostname
	}
	if err := checkHostname(hostname); err != nil {
		return nil, User{}, err
	}
	env, err := containerEnv(hostname, in.Image.Config.Env, cfg.GetEnvs())
	if err != nil {
		return nil, User{}, err
	}
	user, err := ResolveUser(sc, in.Image)
	if err != nil {
		return nil, User{}, err
	}

	ns, err := containerNamespaces(nsOpts, podNsOpts, in.Namespaces, in.Host.CgroupV2)
	if err != nil {
		return nil, User{}, err
	}
	specHostname := ""
	if hasNamespace(ns, specs.UTSNamespace) {
		specHostname = pod.GetHostname()
	}

	caps, err := Capabilities(sc.GetCapabilities(), privileged, in.Host)
	if err != nil {
		return nil, User{}, err
	}
	seccompProfile, err := seccompFor(sc.GetSeccomp(), sc.GetSeccompProfilePath(), "linux.security_context",
		privileged, in.SeccompProfiles, in.Host, caps.Bounding)
	if err != nil {
		return nil, User{}, err
	}
	apparmor, err := AppArmorProfile(sc.GetApparmor(), sc.GetApparmorProfile(), privileged, in.Host)
	if err != nil {
		return nil, User{}, err
	}

	mounts, propagation, err := containerMounts(&in, privileged, sc.GetReadonlyRootfs(), nsOpts.GetIpc())
	if err != nil {
		return nil, User{}, err
	}
	devices, deviceRules, err := Devices(cfg.GetDevices(), in.Devices, privileged, in.Host)
	if err != nil {
		return nil, User{}, err
	}
	resources, err := LinuxResources(cfg.GetLinux().GetResources(), in.Host, "linux.resources")
	if err != nil {
		return nil, User{}, err
	}
	resources.Devices = deviceRules
	withPidsLimit(resources, in.Host)
	oom, err := OOMScoreAdj(cfg.GetLinux().GetResources().GetOomScoreAdj(), in.Host, "linux.resources.oom_score_adj")
	if err != nil {
		return nil, User{}, err
	}
	cgroupsPath, err := CgroupsPath(in.Host, pod.GetLinux().GetCgroupParent(), in.ID)
	if err != nil {
		return nil, User{}, err
	}

	var masked, readonly []string
	if !privileged {
		if masked, err = pathList("masked_paths", sc.GetMaskedPaths(), defaultMaskedPaths); err != nil {
			return nil, User{}, err
		}
		if readonly, err = pathList("readonly_paths", sc.GetReadonlyPaths(), defaultReadonlyPaths); err != nil {
			return nil, User{}, err
		}
	}

	spec := &specs.Spec{
		Version: OCIVersion,
		Process: &specs.Process{
			Terminal: cfg.GetTty(),
			User: specs.User{
				UID:            user.UID,
				GID:            user.GID,
				AdditionalGids: slices.Clone(user.SupplementalGroups),
			},
			Args:            args,
			Env:             env,
			Cwd:             cwd,
			Capabilities:    caps,
			NoNewPrivileges: sc.GetNoNewPrivs(),
			ApparmorProfile: apparmor,
			OOMScoreAdj:     &oom,
		},
		Root:        &specs.Root{Path: in.Rootfs, Readonly: sc.GetReadonlyRootfs()},
		Hostname:    specHostname,
		Mounts:      mounts,
		Annotations: containerAnnotations(in.SandboxID, cfg.GetMetadata().GetName(), in.Image.Name, pod),
		Linux: &specs.Linux{
			Namespaces:        ns,
			Devices:           devices,
			CgroupsPath:       cgroupsPath,
			Resources:         resources,
			RootfsPropagation: propagation,
			Seccomp:           seccompProfile,
			MaskedPaths:       masked,
			ReadonlyPaths:     readonly,
		},
	}
	return spec, user, nil
}

// pathList is the request's masked or read-only paths, else the defaults.
// The request's are passed through as the CRI says, once checked to be
// absolute paths.
func pathList(field string, requested, defaults []string) ([]string, error) {
	if len(requested) == 0 {
		return slices.Clone(defaults), nil
	}
	out := make([]string, 0, len(requested))
	for i, p := range requested {
		clean, reason := checkContainerPath(p)
		if reason != "" {
			return nil, invalidf("linux.security_context.%s[%d]: %s", field, i, reason)
		}
		out = append(out, clean)
	}
	return out, nil
}
