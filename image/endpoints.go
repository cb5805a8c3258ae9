package image

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// endpoint is one place a registry's content can be fetched from.
type endpoint struct {
	scheme string // "https", or "http" for an endpoint the mirror config names so
	host   string // host[:port]
	mirror bool
}

func (e endpoint) String() string { return e.scheme + "://" + e.host }

// parseMirrors validates the mirror configuration: every key a registry
// host, every value a list of "http(s)://host[:port]" URLs with no path,
// query or credentials.
func parseMirrors(m map[string][]string) (map[string][]endpoint, error) {
	out := make(map[string][]endpoint, len(m))
	for host, urls := range m {
		if host == "" || strings.ContainsAny(host, "/@ ") {
			return nil, fmt.Errorf("%w: mirror key %q is not a registry host", ErrInvalidOptions, host)
		}
		for _, raw := range urls {
			u, err := url.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: mirror %q of %s: %w", ErrInvalidOptions, raw, host, err)
			}
			if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
				u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return nil, fmt.Errorf("%w: mirror %q of %s: want http(s)://host[:port] with no path", ErrInvalidOptions, raw, host)
			}
			out[host] = append(out[host], endpoint{scheme: u.Scheme, host: u.Host, mirror: true})
		}
	}
	return out, nil
}

// upstreamHost is where a registry domain's API is served.
func upstreamHost(domain string) string {
	if domain == "docker.io" {
		return "registry-1.docker.io"
	}
	return domain
}

// endpointsFor lists the endpoints a pull from domain tries, in order: the
// configured mirrors, then the registry itself over https. Duplicates are
// dropped.
func endpointsFor(mirrors map[string][]endpoint, domain string) []endpoint {
	all := append(append([]endpoint(nil), mirrors[domain]...), endpoint{scheme: "https", host: upstreamHost(domain)})
	var out []endpoint
	seen := map[endpoint]bool{}
	for _, e := range all {
		key := endpoint{scheme: e.scheme, host: e.host}
		if !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	return out
}

// schemeGuard pins the scheme of every request to an endpoint's host to the
// endpoint's scheme (go-containerregistry would otherwise fall back to
// plain HTTP for loopback and private addresses on its own), and refuses
// plain HTTP to any other host (token servers, blob redirects) unless the
// endpoint itself is configured as plain HTTP.
type schemeGuard struct {
	ep   endpoint
	next http.RoundTripper
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == g.ep.host {
		if req.URL.Scheme != g.ep.scheme {
			r := req.Clone(req.Context())
			r.URL.Scheme = g.ep.scheme
			req = r
		}
	} else if req.URL.Scheme != "https" && g.ep.scheme != "http" {
		return nil, fmt.Errorf("refusing plain-HTTP request to %s for https endpoint %s", req.URL.Host, g.ep)
	}
	return g.next.RoundTrip(req)
}
