package sandbox

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime/oci"
)

func TestResolvConf(t *testing.T) {
	host := []byte("nameserver 192.0.2.1\n")
	cases := []struct {
		name string
		dns  *runtimeapi.DNSConfig
		want string
	}{
		{"none: the host's", nil, "nameserver 192.0.2.1\n"},
		{"empty: the host's", &runtimeapi.DNSConfig{}, "nameserver 192.0.2.1\n"},
		{"servers only", &runtimeapi.DNSConfig{Servers: []string{"10.0.0.10", "10.0.0.11"}}, "nameserver 10.0.0.10\nnameserver 10.0.0.11\n"},
		{"everything", &runtimeapi.DNSConfig{Servers: []string{"10.10.10.10"}, Searches: []string{"a.test", "b.test"}, Options: []string{"ndots:8", "edns0"}},
			"search a.test b.test\nnameserver 10.10.10.10\noptions ndots:8 edns0\n"},
		{"options alone", &runtimeapi.DNSConfig{Options: []string{"ndots:2"}}, "options ndots:2\n"},
	}
	for _, tc := range cases {
		if got := string(ResolvConf(tc.dns, host)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestHosts(t *testing.T) {
	host := []byte("127.0.0.1 localhost node\n")
	if got := string(Hosts(true, host, "10.1.1.1", "pod")); got != string(host) {
		t.Errorf("host network: %q", got)
	}
	if got := string(Hosts(false, host, "", "pod")); got != defaultHosts {
		t.Errorf("no ip: %q", got)
	}
	if got := string(Hosts(false, host, "10.1.1.1", "pod")); got != defaultHosts+"10.1.1.1\tpod\n" {
		t.Errorf("with ip: %q", got)
	}
}

func TestHostname(t *testing.T) {
	if got := Hostname(&runtimeapi.PodSandboxConfig{Hostname: "web"}, "node1"); got != "web" {
		t.Errorf("%q", got)
	}
	if got := Hostname(&runtimeapi.PodSandboxConfig{}, "node1"); got != "node1" {
		t.Errorf("%q", got)
	}
}

func TestCgroupParent(t *testing.T) {
	cases := []struct {
		host      string
		driver    string
		requested string
		want      string
	}{
		{"", "cgroupfs", "", "/logbook"},
		{"", "systemd", "", "system.slice"},
		{"node.pods", "cgroupfs", "", "node.pods"},
		{"", "cgroupfs", "/kubepods/pod1", "/kubepods/pod1"},
	}
	for _, tc := range cases {
		h := hostWith(tc.host, tc.driver)
		if got := cgroupParent(h, tc.requested); got != tc.want {
			t.Errorf("%+v: %q", tc, got)
		}
	}
}

func hostWith(parent, driver string) oci.Host {
	h := oci.Host{DefaultCgroupParent: parent, CgroupDriver: oci.Cgroupfs}
	if driver == "systemd" {
		h.CgroupDriver = oci.Systemd
	}
	return h
}
