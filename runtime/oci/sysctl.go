package oci

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sysctlNameRE: dot-separated elements of letters, digits, '_' and '-'
// (interface names such as "eth0" or "cni-0" included).
var sysctlNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$`)

// SysctlNamespace tells which namespace holds a sysctl: IPC for
// kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.*, network for net.*.
// ok is false for every other sysctl, which would change the whole node.
func SysctlNamespace(name string) (ns specs.LinuxNamespaceType, ok bool) {
	switch {
	case strings.HasPrefix(name, "kernel.shm"), strings.HasPrefix(name, "kernel.msg"),
		name == "kernel.sem", strings.HasPrefix(name, "fs.mqueue."):
		return specs.IPCNamespace, true
	case strings.HasPrefix(name, "net."):
		return specs.NetworkNamespace, true
	}
	return "", false
}

// normalizeSysctl accepts the slash form kubelets also allow
// ("net/ipv4/ip_forward") and returns the dotted form runc writes; in the
// slash form a dot is part of an element (a VLAN interface "eth0.100"),
// which the dotted form cannot carry.
func normalizeSysctl(name string) (string, bool) {
	if strings.Contains(name, "/") {
		if strings.Contains(name, ".") {
			return "", false
		}
		name = strings.ReplaceAll(name, "/", ".")
	}
	return name, sysctlNameRE.MatchString(name)
}

// SandboxSysctls checks a pod's sysctls: only namespaced ones, and none of
// a namespace the pod shares with the host (setting it would change the
// node). Keys are checked in sorted order so the error is deterministic.
func SandboxSysctls(sysctls map[string]string, hostNetwork, hostIPC bool) (map[string]string, error) {
	if len(sysctls) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(sysctls))
	for _, raw := range slices.Sorted(maps.Keys(sysctls)) {
		name, ok := normalizeSysctl(raw)
		if !ok {
			return nil, invalidf("linux.sysctls: %q is not a sysctl name", raw)
		}
		v := sysctls[raw]
		if strings.ContainsAny(v, "\x00\n") {
			return nil, invalidf("linux.sysctls[%s]: value contains a NUL or newline", raw)
		}
		ns, ok := SysctlNamespace(name)
		switch {
		case !ok:
			return nil, invalidf("linux.sysctls: %q is not a namespaced sysctl (allowed: kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*)", raw)
		case ns == specs.IPCNamespace && hostIPC:
			return nil, invalidf("linux.sysctls: %q is an IPC sysctl but the pod uses the host IPC namespace", raw)
		case ns == specs.NetworkNamespace && hostNetwork:
			return nil, invalidf("linux.sysctls: %q is a network sysctl but the pod uses the host network", raw)
		}
		out[name] = v
	}
	return out, nil
}
