package oci

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// allCapabilities are the Linux capabilities in kernel order (0 to 40, the
// last being CAP_CHECKPOINT_RESTORE of Linux 5.9). runc ignores, with a
// warning, the ones a kernel does not have.
var allCapabilities = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// defaultCapabilities is the set containerd (and Docker) give an
// unprivileged container: enough for a classic init-as-root image to
// chown, bind low ports, switch users and ping, nothing that reaches
// outside the container's namespaces (no NET_ADMIN, no SYS_ADMIN).
var defaultCapabilities = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// AllCapabilities returns every capability logbook knows, in kernel order.
func AllCapabilities() []string { return slices.Clone(allCapabilities[:]) }

// DefaultCapabilities returns the capabilities of an unprivileged container
// that neither adds nor drops any, in kernel order.
func DefaultCapabilities() []string { return sortCaps(slices.Clone(defaultCapabilities[:])) }

func hostCapabilities(h Host) []string {
	if h.Capabilities != nil {
		return sortCaps(slices.Clone(h.Capabilities))
	}
	return AllCapabilities()
}

// capRank orders capabilities by kernel number, unknown names last by name.
func capRank(c string) int {
	if i := slices.Index(allCapabilities[:], c); i >= 0 {
		return i
	}
	return len(allCapabilities)
}

func sortCaps(caps []string) []string {
	slices.SortStableFunc(caps, func(a, b string) int {
		if ra, rb := capRank(a), capRank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(caps)
}

// normalizeCap turns a CRI capability name ("net_admin", "NET_ADMIN",
// "CAP_NET_ADMIN") into the OCI spelling, and checks that the host knows it.
func normalizeCap(name string, known []string) (string, bool) {
	c := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c, slices.Contains(known, c) || slices.Contains(allCapabilities[:], c)
}

// Capabilities computes a container's capability sets.
//
// A privileged container gets every capability the host has. Otherwise the
// sets start from DefaultCapabilities and the request edits them in this
// order: add "ALL" (everything), drop "ALL" (nothing), each named add, each
// named drop. A drop therefore wins over an add of the same capability, and
// "drop ALL, add X" leaves exactly X. Ambient additions go to every set,
// inheritable and ambient included (the kernel wants an ambient capability
// to be inheritable and permitted), unless dropped. Without ambient
// additions the inheritable and ambient sets stay empty: an inheritable set
// is a way for file capabilities to regain what the bounding set dropped.
func Capabilities(c *runtimeapi.Capability, privileged bool, host Host) (*specs.LinuxCapabilities, error) {
	known := hostCapabilities(host)
	if privileged {
		return &specs.LinuxCapabilities{
			Bounding:  known,
			Effective: slices.Clone(known),
			Permitted: slices.Clone(known),
		}, nil
	}
	named := func(field string, list []string) (names []string, all bool, err error) {
		for i, n := range list {
			if strings.EqualFold(strings.TrimSpace(n), "ALL") {
				all = true
				continue
			}
			cn, ok := normalizeCap(n, known)
			if !ok {
				return nil, false, invalidf("linux.security_context.capabilities.%s[%d]: unknown capability %q", field, i, n)
			}
			names = append(names, cn)
		}
		return names, all, nil
	}
	adds, addAll, err := named("add_capabilities", c.GetAddCapabilities())
	if err != nil {
		return nil, err
	}
	drops, dropAll, err := named("drop_capabilities", c.GetDropCapabilities())
	if err != nil {
		return nil, err
	}
	ambient, ambientAll, err := named("add_ambient_capabilities", c.GetAddAmbientCapabilities())
	if err != nil {
		return nil, err
	}
	if ambientAll {
		return nil, invalidf("linux.security_context.capabilities.add_ambient_capabilities: \"ALL\" is not allowed")
	}

	set := slices.Clone(defaultCapabilities[:])
	if addAll {
		set = slices.Clone(known)
	}
	if dropAll {
		set = nil
	}
	set = append(set, adds...)
	set = append(set, ambient...)
	set = slices.DeleteFunc(set, func(c string) bool { return slices.Contains(drops, c) })
	set = sortCaps(set)
	ambient = sortCaps(slices.DeleteFunc(ambient, func(c string) bool { return slices.Contains(drops, c) }))

	caps := &specs.LinuxCapabilities{
		Bounding:  set,
		Effective: slices.Clone(set),
		Permitted: slices.Clone(set),
	}
	if len(ambient) > 0 {
		caps.Inheritable = ambient
		caps.Ambient = slices.Clone(ambient)
	}
	return caps, nil
}
