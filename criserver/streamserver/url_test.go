package streamserver

import (
	"net"
	"testing"
)

func ipNet(s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

func TestAdvertisedHost(t *testing.T) {
	addrs := []net.Addr{ipNet("127.0.0.1/8"), ipNet("::1/128"), ipNet("fe80::1/64"), ipNet("10.0.0.5/24"), ipNet("2001:db8::5/64")}
	for _, tc := range []struct {
		listen string
		addrs  []net.Addr
		want   string
	}{
		{"127.0.0.1", addrs, "127.0.0.1"},
		{"10.0.0.7", addrs, "10.0.0.7"},
		{"::1", addrs, "::1"},
		{"0.0.0.0", addrs, "10.0.0.5"},
		{"::", addrs, "2001:db8::5"},
		{"0.0.0.0", addrs[:3], "127.0.0.1"}, // no global address: loopback
		{"::", addrs[:3], "::1"},
		{"0.0.0.0", nil, "127.0.0.1"},
	} {
		if got := advertisedHost(net.ParseIP(tc.listen), tc.addrs); got != tc.want {
			t.Errorf("advertisedHost(%s) = %s, want %s", tc.listen, got, tc.want)
		}
	}
}

func TestSessionURLIsAbsolute(t *testing.T) {
	for _, tc := range []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 4321}, "http://127.0.0.1:4321/exec/tok"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 4321}, "http://[::1]:4321/exec/tok"},
	} {
		if got := sessionURL(baseURL(tc.addr, nil), "exec", "tok"); got != tc.want {
			t.Errorf("sessionURL(%v) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}
