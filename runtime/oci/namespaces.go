package oci

import (
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// checkUserns refuses user namespaces: runc 1.1 cannot give a pod one of
// its own with id-mapped volumes, so the runtime does not report the
// feature. A nil option, mode NODE, or mode POD without mappings (what
// older kubelets send) all mean "the host's user namespace".
func checkUserns(o *runtimeapi.NamespaceOption, field string) error {
	u := o.GetUsernsOptions()
	switch {
	case u == nil, u.GetMode() == runtimeapi.NamespaceMode_NODE:
		return nil
	case u.GetMode() == runtimeapi.NamespaceMode_POD && len(u.GetUids()) == 0 && len(u.GetGids()) == 0:
		return nil
	case u.GetMode() == runtimeapi.NamespaceMode_POD:
		return unsupportedf("%s.userns_options: user namespaces are not supported", field)
	default:
		return invalidf("%s.userns_options.mode %s is not POD or NODE", field, u.GetMode())
	}
}

// sandboxNamespaces are the infra process's namespaces. It creates the
// pod's IPC, UTS and PID namespaces (the ones the pod does not share with
// the node) and enters the pod's network namespace, which the runtime made
// beforehand for CNI. A host-network pod also keeps the host's UTS
// namespace: its hostname is the node's.
func sandboxNamespaces(o *runtimeapi.NamespaceOption, netnsPath string, cgroupV2 bool) ([]specs.LinuxNamespace, error) {
	const field = "linux.security_context.namespace_options"
	if err := checkUserns(o, field); err != nil {
		return nil, err
	}
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	switch m := o.GetNetwork(); m {
	case runtimeapi.NamespaceMode_NODE:
	case runtimeapi.NamespaceMode_POD:
		if !path.IsAbs(netnsPath) {
			return nil, badInputf("the pod's network namespace path %q is not absolute", netnsPath)
		}
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netnsPath},
			specs.LinuxNamespace{Type: specs.UTSNamespace})
	default:
		return nil, invalidf("%s.network %s is not POD or NODE", field, m)
	}
	switch m := o.GetIpc(); m {
	case runtimeapi.NamespaceMode_NODE:
	case runtimeapi.NamespaceMode_POD:
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace})
	default:
		return nil, invalidf("%s.ipc %s is not POD or NODE", field, m)
	}
	switch m := o.GetPid(); m {
	case runtimeapi.NamespaceMode_NODE:
	case runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_CONTAINER:
		// Kubelets send CONTAINER for pods that do not share a process
		// namespace; the infra process has one of its own either way.
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	default:
		return nil, invalidf("%s.pid %s is not POD, CONTAINER or NODE", field, m)
	}
	if cgroupV2 {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return ns, nil
}

// containerNamespaces are a workload container's: a mount namespace of its
// own, the pod's network, UTS and IPC namespaces joined by path (or the
// host's: no entry), and a PID namespace that is the pod's (POD), its own
// (CONTAINER), the host's (NODE) or another container's (TARGET). Network
// and IPC must agree with the pod's: a container cannot be on the host
// network of a pod that has its own, or the reverse.
func containerNamespaces(o, pod *runtimeapi.NamespaceOption, paths SandboxNamespaces, cgroupV2 bool) ([]specs.LinuxNamespace, error) {
	const field = "linux.security_context.namespace_options"
	if err := checkUserns(o, field); err != nil {
		return nil, err
	}
	join := func(t specs.LinuxNamespaceType, p string) (specs.LinuxNamespace, error) {
		if !path.IsAbs(p) {
			return specs.LinuxNamespace{}, badInputf("the pod's %s namespace path %q is not absolute", t, p)
		}
		return specs.LinuxNamespace{Type: t, Path: p}, nil
	}
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}

	switch m := o.GetNetwork(); {
	case m != runtimeapi.NamespaceMode_POD && m != runtimeapi.NamespaceMode_NODE:
		return nil, unsupportedf("%s.network %s: containers share the pod's network (POD) or the host's (NODE)", field, m)
	case m != pod.GetNetwork():
		return nil, invalidf("%s.network %s differs from the pod's %s", field, m, pod.GetNetwork())
	case m == runtimeapi.NamespaceMode_POD:
		netns, err := join(specs.NetworkNamespace, paths.Network)
		if err != nil {
			return nil, err
		}
		uts, err := join(specs.UTSNamespace, paths.UTS)
		if err != nil {
			return nil, err
		}
		ns = append(ns, netns, uts)
	}

	switch m := o.GetIpc(); {
	case m == runtimeapi.NamespaceMode_CONTAINER:
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace})
	case m != runtimeapi.NamespaceMode_POD && m != runtimeapi.NamespaceMode_NODE:
		return nil, unsupportedf("%s.ipc %s is not POD, CONTAINER or NODE", field, m)
	case m != pod.GetIpc():
		return nil, invalidf("%s.ipc %s differs from the pod's %s", field, m, pod.GetIpc())
	case m == runtimeapi.NamespaceMode_POD:
		ipc, err := join(specs.IPCNamespace, paths.IPC)
		if err != nil {
			return nil, err
		}
		ns = append(ns, ipc)
	}

	switch m := o.GetPid(); m {
	case runtimeapi.NamespaceMode_NODE:
	case runtimeapi.NamespaceMode_CONTAINER:
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	case runtimeapi.NamespaceMode_POD:
		pid, err := join(specs.PIDNamespace, paths.PID)
		if err != nil {
			return nil, err
		}
		ns = append(ns, pid)
	case runtimeapi.NamespaceMode_TARGET:
		if o.GetTargetId() == "" {
			return nil, invalidf("%s.target_id is empty but pid is TARGET", field)
		}
		if !path.IsAbs(paths.TargetPID) {
			return nil, badInputf("the pid namespace path %q of target container %q is not absolute", paths.TargetPID, o.GetTargetId())
		}
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: paths.TargetPID})
	default:
		return nil, invalidf("%s.pid %s is unknown", field, m)
	}
	if cgroupV2 {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return ns, nil
}

func hasNamespace(ns []specs.LinuxNamespace, t specs.LinuxNamespaceType) bool {
	for _, n := range ns {
		if n.Type == t {
			return true
		}
	}
	return false
}
