package network

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestPortMappings(t *testing.T) {
	tests := []struct {
		name string
		in   []*runtimeapi.PortMapping
		want []portMapping
		err  bool
	}{
		{name: "none", in: nil, want: nil},
		{
			name: "container port only is not sent",
			in:   []*runtimeapi.PortMapping{{ContainerPort: 80}},
			want: nil,
		},
		{
			name: "host port, each protocol lower-case, host IP kept",
			in: []*runtimeapi.PortMapping{
				{ContainerPort: 80, HostPort: 12000},
				{Protocol: runtimeapi.Protocol_UDP, ContainerPort: 53, HostPort: 5353, HostIp: "127.0.0.1"},
				{Protocol: runtimeapi.Protocol_SCTP, ContainerPort: 9, HostPort: 9999},
				{ContainerPort: 81},
				nil,
			},
			want: []portMapping{
				{HostPort: 12000, ContainerPort: 80, Protocol: "tcp"},
				{HostPort: 5353, ContainerPort: 53, Protocol: "udp", HostIP: "127.0.0.1"},
				{HostPort: 9999, ContainerPort: 9, Protocol: "sctp"},
			},
		},
		{name: "negative host port", in: []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: -1}}, err: true},
		{name: "host port too large", in: []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 65536}}, err: true},
		{name: "host port without container port", in: []*runtimeapi.PortMapping{{HostPort: 8080}}, err: true},
		{name: "container port too large", in: []*runtimeapi.PortMapping{{ContainerPort: 70000, HostPort: 8080}}, err: true},
		{name: "unknown protocol", in: []*runtimeapi.PortMapping{{Protocol: 7, ContainerPort: 80, HostPort: 8080}}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := portMappings(tt.in)
			if tt.err {
				if !errors.Is(err, ErrInvalidPodConfig) {
					t.Fatalf("err = %v, want ErrInvalidPodConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBandwidthArgs(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want *bandwidth
		err  bool
	}{
		{name: "none", ann: map[string]string{"other": "1M"}, want: nil},
		{
			name: "ingress only",
			ann:  map[string]string{IngressBandwidthAnnotation: "10M"},
			want: &bandwidth{IngressRate: 10_000_000, IngressBurst: unlimitedBurst},
		},
		{
			name: "both, binary suffix",
			ann:  map[string]string{IngressBandwidthAnnotation: "1Mi", EgressBandwidthAnnotation: " 2k "},
			want: &bandwidth{IngressRate: 1 << 20, IngressBurst: unlimitedBurst, EgressRate: 2000, EgressBurst: unlimitedBurst},
		},
		{name: "lower bound", ann: map[string]string{EgressBandwidthAnnotation: "1k"}, want: &bandwidth{EgressRate: 1000, EgressBurst: unlimitedBurst}},
		{name: "unparsable", ann: map[string]string{IngressBandwidthAnnotation: "fast"}, err: true},
		{name: "too small", ann: map[string]string{IngressBandwidthAnnotation: "999"}, err: true},
		{name: "too large", ann: map[string]string{EgressBandwidthAnnotation: "2P"}, err: true},
		{name: "negative", ann: map[string]string{EgressBandwidthAnnotation: "-1M"}, err: true},
		{name: "decimal exponent", ann: map[string]string{IngressBandwidthAnnotation: "1e6"}, want: &bandwidth{IngressRate: 1_000_000, IngressBurst: unlimitedBurst}},
		{name: "exbi suffix is too large", ann: map[string]string{IngressBandwidthAnnotation: "1Ei"}, err: true},
		{name: "huge exponent refused cheaply", ann: map[string]string{IngressBandwidthAnnotation: "1e999999999"}, err: true},
		{name: "tiny exponent refused cheaply", ann: map[string]string{IngressBandwidthAnnotation: "1e-999999999"}, err: true},
		{name: "absurdly long", ann: map[string]string{IngressBandwidthAnnotation: "1" + strings.Repeat("0", 100)}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bandwidthArgs(tt.ann)
			if tt.err {
				if !errors.Is(err, ErrInvalidPodConfig) {
					t.Fatalf("err = %v, want ErrInvalidPodConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestCapabilityArgsJSON checks the whole map as the plugins receive it
// (libcni marshals it into runtimeConfig).
func TestCapabilityArgsJSON(t *testing.T) {
	cfg := &runtimeapi.PodSandboxConfig{
		PortMappings: []*runtimeapi.PortMapping{{ContainerPort: 80}, {ContainerPort: 80, HostPort: 12000, HostIp: "0.0.0.0"}},
		DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.10.10.10"}, Searches: []string{"google.com"}, Options: []string{"ndots:8"}},
		Annotations:  map[string]string{EgressBandwidthAnnotation: "5M"},
	}
	args, err := capabilityArgs(cfg, []string{"10.200.0.0/24", "fd00:200::/64"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	wantJSON := `{
		"portMappings": [{"hostPort": 12000, "containerPort": 80, "protocol": "tcp", "hostIP": "0.0.0.0"}],
		"dns": {"servers": ["10.10.10.10"], "searches": ["google.com"], "options": ["ndots:8"]},
		"bandwidth": {"egressRate": 5000000, "egressBurst": 2147483647},
		"ipRanges": [[{"subnet": "10.200.0.0/24"}], [{"subnet": "fd00:200::/64"}]]
	}`
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("capability args\n got %s\nwant %s", b, wantJSON)
	}

	// A pod asking for nothing gets no keys at all, not empty ones.
	empty, err := capabilityArgs(&runtimeapi.PodSandboxConfig{DnsConfig: &runtimeapi.DNSConfig{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(empty) != 0 {
		t.Fatalf("empty pod: got %v, want no capability args", empty)
	}

	// A bad pod is refused before any plugin runs.
	bad := &runtimeapi.PodSandboxConfig{Annotations: map[string]string{IngressBandwidthAnnotation: "x"}}
	if _, err := capabilityArgs(bad, nil); !errors.Is(err, ErrInvalidPodConfig) {
		t.Fatalf("bad bandwidth: err = %v", err)
	}
}

func TestCNIArgs(t *testing.T) {
	got := cniArgs("abc123", &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "prod", Uid: "u-1"})
	want := [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", "prod"},
		{"K8S_POD_NAME", "web"},
		{"K8S_POD_INFRA_CONTAINER_ID", "abc123"},
		{"K8S_POD_UID", "u-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestHostNetwork(t *testing.T) {
	node := &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}}}
	pod := &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD}}}}
	if !hostNetwork(node) || hostNetwork(pod) || hostNetwork(&runtimeapi.PodSandboxConfig{}) || hostNetwork(nil) {
		t.Fatal("hostNetwork misjudges NODE / POD / unset")
	}
}

func TestCheckSandboxID(t *testing.T) {
	for id, ok := range map[string]bool{
		"0123abcdef": true, "a.b-c_d": true, "": false, "../x": false, "a/b": false,
		".hidden": false, "-x": false, "a b": false, "é": false,
	} {
		if err := checkSandboxID(id); (err == nil) != ok {
			t.Errorf("checkSandboxID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

// FuzzCapabilityArgs: whatever a pod config holds, building the capability
// args never panics, refuses only with ErrInvalidPodConfig, and what it
// hands portmap is always a real host port with a real container port and
// a known protocol, as much as the pod asked for.
func FuzzCapabilityArgs(f *testing.F) {
	f.Add(int32(80), int32(12000), int32(0), "127.0.0.1", "10M", "")
	f.Add(int32(80), int32(0), int32(1), "", "", "1k")
	f.Add(int32(0), int32(-5), int32(9), "::", "1e3", "2P")
	f.Fuzz(func(t *testing.T, containerPort, hostPort, proto int32, hostIP, ingress, egress string) {
		ann := map[string]string{}
		if ingress != "" {
			ann[IngressBandwidthAnnotation] = ingress
		}
		if egress != "" {
			ann[EgressBandwidthAnnotation] = egress
		}
		cfg := &runtimeapi.PodSandboxConfig{
			PortMappings: []*runtimeapi.PortMapping{{ContainerPort: containerPort, HostPort: hostPort, Protocol: runtimeapi.Protocol(proto), HostIp: hostIP}},
			Annotations:  ann,
		}
		args, err := capabilityArgs(cfg, nil)
		if err != nil {
			if !errors.Is(err, ErrInvalidPodConfig) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		pms, _ := args[capPortMappings].([]portMapping)
		if hostPort > 0 && len(pms) != 1 || hostPort == 0 && pms != nil {
			t.Fatalf("host port %d gave mappings %+v", hostPort, pms)
		}
		for _, pm := range pms {
			if pm.HostPort <= 0 || pm.HostPort > 65535 || pm.ContainerPort <= 0 || pm.ContainerPort > 65535 ||
				(pm.Protocol != "tcp" && pm.Protocol != "udp" && pm.Protocol != "sctp") || pm.HostIP != hostIP {
				t.Fatalf("bad mapping %+v", pm)
			}
		}
		if bw, ok := args[capBandwidth].(*bandwidth); ok {
			for _, r := range []uint64{bw.IngressRate, bw.EgressRate} {
				if r != 0 && (r < minBandwidth || r > maxBandwidth) {
					t.Fatalf("rate %d out of bounds", r)
				}
			}
		} else if len(ann) > 0 {
			t.Fatalf("annotations %v accepted without a bandwidth arg", ann)
		}
		if _, err := json.Marshal(args); err != nil {
			t.Fatalf("args do not marshal: %v", err)
		}
	})
}
