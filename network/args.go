package network

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// IfName is the pod's interface inside its network namespace, as every
// kubelet runtime names it.
const IfName = "eth0"

// Bandwidth annotations kubelets' runtimes honour, each a Kubernetes
// quantity in bits per second (e.g. "10M").
const (
	IngressBandwidthAnnotation = "kubernetes.io/ingress-bandwidth"
	EgressBandwidthAnnotation  = "kubernetes.io/egress-bandwidth"
)

// Bounds of a bandwidth annotation in bits per second, as the kubelet
// checks them: below one kilobit or above one petabit per second is a
// mistake, not a wish.
const (
	minBandwidth = 1_000
	maxBandwidth = 1_000_000_000_000_000
)

// The capability args the plugins advertise in their "capabilities" and
// libcni hands them under "runtimeConfig". The JSON names are the CNI
// conventions (github.com/containernetworking/cni CONVENTIONS.md).
const (
	capPortMappings = "portMappings"
	capDNS          = "dns"
	capBandwidth    = "bandwidth"
	capIPRanges     = "ipRanges"
)

type portMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

type dnsConfig struct {
	Servers  []string `json:"servers,omitempty"`
	Searches []string `json:"searches,omitempty"`
	Options  []string `json:"options,omitempty"`
}

// bandwidth is in bits per second, bursts in bits, as the bandwidth
// plugin reads them.
type bandwidth struct {
	IngressRate  uint64 `json:"ingressRate,omitempty"`
	IngressBurst uint64 `json:"ingressBurst,omitempty"`
	EgressRate   uint64 `json:"egressRate,omitempty"`
	EgressBurst  uint64 `json:"egressBurst,omitempty"`
}

type ipRange struct {
	Subnet string `json:"subnet"`
}

// unlimitedBurst makes the token bucket's depth irrelevant, so the rate is
// the limit (what kubelets' runtimes pass; the plugin refuses a rate
// without a burst).
const unlimitedBurst = math.MaxInt32

// hostNetwork reports whether the pod shares the node's network namespace.
func hostNetwork(cfg *runtimeapi.PodSandboxConfig) bool {
	return cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
}

// cniArgs are the CNI_ARGS every kubelet runtime passes: the pod's identity
// and IgnoreUnknown, so plugins that know none of them still run.
func cniArgs(sandboxID string, meta *runtimeapi.PodSandboxMetadata) [][2]string {
	return [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", meta.GetNamespace()},
		{"K8S_POD_NAME", meta.GetName()},
		{"K8S_POD_INFRA_CONTAINER_ID", sandboxID},
		{"K8S_POD_UID", meta.GetUid()},
	}
}

// capabilityArgs computes what the pod asks of the capabilities a plugin
// may advertise. Keys with nothing to say are left out; libcni passes each
// remaining key only to plugins that declare it.
func capabilityArgs(cfg *runtimeapi.PodSandboxConfig, podCIDRs []string) (map[string]any, error) {
	args := map[string]any{}
	pms, err := portMappings(cfg.GetPortMappings())
	if err != nil {
		return nil, err
	}
	if len(pms) > 0 {
		args[capPortMappings] = pms
	}
	if d := dnsArgs(cfg.GetDnsConfig()); d != nil {
		args[capDNS] = d
	}
	bw, err := bandwidthArgs(cfg.GetAnnotations())
	if err != nil {
		return nil, err
	}
	if bw != nil {
		args[capBandwidth] = bw
	}
	if r := ipRanges(podCIDRs); len(r) > 0 {
		args[capIPRanges] = r
	}
	return args, nil
}

// portMappings keeps the mappings that publish a host port. A mapping
// without one (host_port 0) only documents the container's port: the pod
// IP reaches it anyway, and portmap refuses host port 0.
func portMappings(in []*runtimeapi.PortMapping) ([]portMapping, error) {
	var out []portMapping
	for i, pm := range in {
		if pm == nil {
			continue
		}
		if pm.HostPort < 0 || pm.HostPort > math.MaxUint16 {
			return nil, fmt.Errorf("%w: port_mappings[%d]: host port %d out of range", ErrInvalidPodConfig, i, pm.HostPort)
		}
		if pm.HostPort == 0 {
			continue
		}
		if pm.ContainerPort <= 0 || pm.ContainerPort > math.MaxUint16 {
			return nil, fmt.Errorf("%w: port_mappings[%d]: container port %d out of range", ErrInvalidPodConfig, i, pm.ContainerPort)
		}
		proto, err := protocol(pm.Protocol)
		if err != nil {
			return nil, fmt.Errorf("%w: port_mappings[%d]: %v", ErrInvalidPodConfig, i, err)
		}
		out = append(out, portMapping{
			HostPort:      pm.HostPort,
			ContainerPort: pm.ContainerPort,
			Protocol:      proto,
			HostIP:        pm.HostIp,
		})
	}
	return out, nil
}

func protocol(p runtimeapi.Protocol) (string, error) {
	switch p {
	case runtimeapi.Protocol_TCP:
		return "tcp", nil
	case runtimeapi.Protocol_UDP:
		return "udp", nil
	case runtimeapi.Protocol_SCTP:
		return "sctp", nil
	}
	return "", fmt.Errorf("unknown protocol %d", int32(p))
}

// dnsArgs passes the pod's DNS configuration to plugins that manage DNS
// themselves (the sandbox writes resolv.conf either way).
func dnsArgs(d *runtimeapi.DNSConfig) *dnsConfig {
	if len(d.GetServers()) == 0 && len(d.GetSearches()) == 0 && len(d.GetOptions()) == 0 {
		return nil
	}
	return &dnsConfig{Servers: d.GetServers(), Searches: d.GetSearches(), Options: d.GetOptions()}
}

// bandwidthArgs reads the bandwidth annotations. Neither present: nil.
func bandwidthArgs(annotations map[string]string) (*bandwidth, error) {
	ingress, err := bandwidthQuantity(annotations, IngressBandwidthAnnotation)
	if err != nil {
		return nil, err
	}
	egress, err := bandwidthQuantity(annotations, EgressBandwidthAnnotation)
	if err != nil {
		return nil, err
	}
	if ingress == 0 && egress == 0 {
		return nil, nil
	}
	bw := &bandwidth{}
	if ingress > 0 {
		bw.IngressRate, bw.IngressBurst = ingress, unlimitedBurst
	}
	if egress > 0 {
		bw.EgressRate, bw.EgressBurst = egress, unlimitedBurst
	}
	return bw, nil
}

// bandwidthQuantity parses one annotation into bits per second; 0 when
// absent.
func bandwidthQuantity(annotations map[string]string, key string) (uint64, error) {
	s, ok := annotations[key]
	if !ok {
		return 0, nil
	}
	v := strings.TrimSpace(s)
	if err := quantityCheap(v); err != nil {
		return 0, fmt.Errorf("%w: annotation %s=%q: %v", ErrInvalidPodConfig, key, s, err)
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0, fmt.Errorf("%w: annotation %s=%q: %v", ErrInvalidPodConfig, key, s, err)
	}
	if q.CmpInt64(minBandwidth) < 0 || q.CmpInt64(maxBandwidth) > 0 {
		return 0, fmt.Errorf("%w: annotation %s=%q: want between 1k and 1P bits per second",
			ErrInvalidPodConfig, key, s)
	}
	return uint64(q.Value()), nil
}

// quantityCheap refuses, before the quantity parser sees them, strings
// whose parsing would cost time out of all proportion: very long ones, and
// decimal exponents far beyond any bandwidth ("1e999999999" makes the
// arbitrary-precision parser work for minutes).
func quantityCheap(s string) error {
	if len(s) > 64 {
		return fmt.Errorf("longer than 64 characters")
	}
	i := 0
	for i < len(s) && (s[i] == '+' || s[i] == '-' || s[i] == '.' || s[i] >= '0' && s[i] <= '9') {
		i++
	}
	// "e" or "E" followed by an integer is a decimal exponent ("E" and
	// "Ei" alone are suffixes, left to the parser).
	if i < len(s)-1 && (s[i] == 'e' || s[i] == 'E') {
		if exp, err := strconv.ParseInt(s[i+1:], 10, 64); err == nil && (exp < -30 || exp > 30) {
			return fmt.Errorf("exponent %d out of range", exp)
		}
	}
	return nil
}

// ipRanges turns the node's pod CIDRs (one per IP family) into host-local's
// runtime ranges: one range set per CIDR, so a dual-stack node gives each
// pod one address of each family.
func ipRanges(cidrs []string) [][]ipRange {
	var out [][]ipRange
	for _, c := range cidrs {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, []ipRange{{Subnet: c}})
		}
	}
	return out
}
