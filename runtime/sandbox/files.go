package sandbox

import (
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The /etc files of a pod, computed from its config and the host's own
// files (read by the caller). Each container of the pod bind-mounts them.

// hasDNS reports whether a DNSConfig asks for anything: an empty one (what
// some clients send for "no opinion") is the same as none.
func hasDNS(d *runtimeapi.DNSConfig) bool {
	return len(d.GetServers()) > 0 || len(d.GetSearches()) > 0 || len(d.GetOptions()) > 0
}

// ResolvConf is the pod's /etc/resolv.conf: the DNSConfig's servers,
// search domains and options, or, when the pod asks for nothing, the
// host's own file (as containerd does, for host-network pods and others).
func ResolvConf(dns *runtimeapi.DNSConfig, host []byte) []byte {
	if !hasDNS(dns) {
		return host
	}
	var b strings.Builder
	if s := dns.GetSearches(); len(s) > 0 {
		b.WriteString("search " + strings.Join(s, " ") + "\n")
	}
	for _, ns := range dns.GetServers() {
		b.WriteString("nameserver " + ns + "\n")
	}
	if o := dns.GetOptions(); len(o) > 0 {
		b.WriteString("options " + strings.Join(o, " ") + "\n")
	}
	return []byte(b.String())
}

// defaultHosts is a pod's /etc/hosts when it has a network of its own
// (the kubelet usually mounts its own over it).
const defaultHosts = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`

// Hosts is the pod's /etc/hosts: the host's for a host-network pod, else
// the loopback names, plus the pod's own hostname on its IP when it has
// one.
func Hosts(hostNetwork bool, host []byte, ip, hostname string) []byte {
	if hostNetwork {
		return host
	}
	s := defaultHosts
	if ip != "" && hostname != "" {
		s += ip + "\t" + hostname + "\n"
	}
	return []byte(s)
}

// Hostname is the pod's /etc/hostname: the config's hostname, or the
// node's when the config has none (a host-network pod shares the node's
// name; a pod with a UTS namespace of its own starts with a copy of it).
func Hostname(cfg *runtimeapi.PodSandboxConfig, node string) string {
	if h := cfg.GetHostname(); h != "" {
		return h
	}
	return node
}
