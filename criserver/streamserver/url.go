package streamserver

import (
	"net"
	"net/url"
	"strconv"
)

// advertisedHost is the host a client is told to connect to for a server
// listening on ip. A specific address is itself. An unspecified one (all
// addresses) is the node's first global unicast address of the same
// family among addrs (the host's interface addresses), so that a client
// elsewhere (a kubelet's apiserver proxy) can reach it; failing that, the
// loopback address of the family.
func advertisedHost(ip net.IP, addrs []net.Addr) string {
	if !ip.IsUnspecified() {
		return ip.String()
	}
	v4 := ip.To4() != nil
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.IsGlobalUnicast() || (n.IP.To4() != nil) != v4 {
			continue
		}
		return n.IP.String()
	}
	if v4 {
		return "127.0.0.1"
	}
	return "::1"
}

// baseURL is the absolute URL under which a server listening at addr
// serves its sessions: http://host:port/.
func baseURL(addr *net.TCPAddr, ifaceAddrs []net.Addr) *url.URL {
	host := advertisedHost(addr.IP, ifaceAddrs)
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(addr.Port)), Path: "/"}
}

// sessionURL is the URL of one session: base/<kind>/<token>.
func sessionURL(base *url.URL, kind, token string) string {
	return base.JoinPath(kind, token).String()
}
