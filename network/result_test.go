package network

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestPodIPs(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		primary    string
		additional []string
		err        error
	}{
		{
			name: "bridge result 1.0.0: the host-side bridge address is not the pod's",
			raw: `{"cniVersion":"1.0.0",
				"interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:ff"},{"name":"veth1"},{"name":"eth0","sandbox":"/run/netns/x"}],
				"ips":[{"address":"10.88.0.5/16","gateway":"10.88.0.1","interface":2}]}`,
			primary: "10.88.0.5",
		},
		{
			name: "dual stack, IPv6 first in the result: IPv4 is primary",
			raw: `{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/n"}],
				"ips":[{"address":"fd00::5/64","interface":0},{"address":"10.1.0.5/24","interface":0},{"address":"10.1.0.6/24","interface":0}]}`,
			primary:    "10.1.0.5",
			additional: []string{"10.1.0.6", "fd00::5"},
		},
		{
			name:    "IPv6 only",
			raw:     `{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/n"}],"ips":[{"address":"fd00::7/64","interface":0}]}`,
			primary: "fd00::7",
		},
		{
			name:    "0.4.0 result, IP without interface counts",
			raw:     `{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.2.0.9/24"}]}`,
			primary: "10.2.0.9",
		},
		{
			name:    "0.3.1 result with duplicate addresses",
			raw:     `{"cniVersion":"0.3.1","interfaces":[{"name":"eth0","sandbox":"/n"}],"ips":[{"version":"4","address":"10.3.0.2/24","interface":0},{"version":"4","address":"10.3.0.2/24","interface":0}]}`,
			primary: "10.3.0.2",
		},
		{
			name: "another interface in the pod is not eth0",
			raw:  `{"cniVersion":"1.0.0","interfaces":[{"name":"net1","sandbox":"/n"}],"ips":[{"address":"10.4.0.2/24","interface":0}]}`,
			err:  ErrNoIP,
		},
		{
			name: "interface index out of range",
			raw:  `{"cniVersion":"1.0.0","interfaces":[],"ips":[{"address":"10.4.0.2/24","interface":3}]}`,
			err:  ErrNoIP,
		},
		{
			name: "no IPs",
			raw:  `{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/n"}]}`,
			err:  ErrNoIP,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := decodeResult([]byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			primary, additional, err := podIPs(res, IfName)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if primary != tt.primary || !reflect.DeepEqual(additional, tt.additional) && len(additional)+len(tt.additional) > 0 {
				t.Fatalf("got %q %q, want %q %q", primary, additional, tt.primary, tt.additional)
			}
		})
	}
}

// FuzzPodIPs: whatever a plugin prints, choosing the pod's IPs never
// panics, and what it returns holds the invariants CRI relies on: valid,
// distinct addresses, IPv4 before IPv6.
func FuzzPodIPs(f *testing.F) {
	f.Add([]byte(`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/n"}],"ips":[{"address":"fd00::5/64","interface":0},{"address":"10.1.0.5/24","interface":0}]}`))
	f.Add([]byte(`{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.2.0.9/24"}]}`))
	f.Add([]byte(`{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"},"ip6":{"ip":"fd::2/64"}}`))
	f.Add([]byte(`{"cniVersion":"1.0.0","interfaces":[null],"ips":[null,{"address":"::ffff:10.0.0.1/96","interface":-1}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := decodeResult(raw)
		if err != nil {
			return
		}
		primary, additional, err := podIPs(res, IfName)
		if err != nil {
			if primary != "" || additional != nil {
				t.Fatalf("error %v with IPs %q %q", err, primary, additional)
			}
			return
		}
		all := append([]string{primary}, additional...)
		seen := map[netip.Addr]bool{}
		sawV6 := false
		for _, s := range all {
			a, err := netip.ParseAddr(s)
			if err != nil || a.IsUnspecified() || seen[a] {
				t.Fatalf("bad or repeated address %q in %q", s, all)
			}
			seen[a] = true
			if a.Is4() && sawV6 {
				t.Fatalf("IPv4 after IPv6 in %q", all)
			}
			sawV6 = sawV6 || a.Is6()
		}
	})
}
