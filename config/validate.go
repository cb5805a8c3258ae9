package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// maxSocketPath is the longest path a unix socket address holds on Linux
// (sun_path is 108 bytes including the terminating NUL).
const maxSocketPath = 107

// LookPathFunc finds an executable the way exec.LookPath does: a bare name
// is searched in PATH, a path is checked as it is.
type LookPathFunc func(file string) (string, error)

// Finish completes a configuration after the file and the flags have been
// applied: it validates every key, cleans the paths, derives the socket from
// the state directory when none is given, and resolves runtime-path to an
// absolute executable with lookPath. All problems are returned together.
func (c *Config) Finish(lookPath LookPathFunc) error {
	if err := c.Validate(); err != nil {
		return err
	}
	c.Root = filepath.Clean(c.Root)
	c.State = filepath.Clean(c.State)
	if c.Socket == "" {
		c.Socket = filepath.Join(c.State, SocketName)
		if len(c.Socket) > maxSocketPath {
			return invalid("socket", "derived path %q is longer than %d bytes; set socket explicitly", c.Socket, maxSocketPath)
		}
	}
	c.Socket = filepath.Clean(c.Socket)
	c.CNIConfDir = filepath.Clean(c.CNIConfDir)
	resolved, err := lookPath(c.RuntimePath)
	if err != nil {
		return invalid("runtime-path", "%q is not an executable: %v", c.RuntimePath, err)
	}
	if !filepath.IsAbs(resolved) {
		if resolved, err = filepath.Abs(resolved); err != nil {
			return invalid("runtime-path", "%v", err)
		}
	}
	c.RuntimePath = resolved
	return nil
}

// Validate checks every key's value without touching the system. It returns
// all problems joined, each a *KeyError naming its key.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if !c.EnableCRIV1 {
		add(&KeyError{Key: "enable-cri-v1", Err: ErrCRIv1Disabled})
	}
	add(checkAbsDir("root", c.Root))
	add(checkAbsDir("state", c.State))
	if c.Socket != "" {
		add(checkAbsDir("socket", c.Socket))
		if len(c.Socket) > maxSocketPath {
			add(invalid("socket", "%q is longer than the %d bytes a unix socket path may have", c.Socket, maxSocketPath))
		}
	}
	add(checkRuntimePath(c.RuntimePath))
	if !c.LogLevel.valid() {
		add(invalid("log-level", "%q is not one of debug, info, warn, error", c.LogLevel))
	}
	add(checkMetricsAddress(c.MetricsAddress, c.MetricsAllowNonLoopback))
	if c.EnableProfiling && c.MetricsAddress == "" {
		add(invalid("enable-profiling", "the profiles are served on metrics-address, which is empty"))
	}
	add(checkMirrors(c.RegistryMirrors))
	add(checkAbsDir("cni-conf-dir", c.CNIConfDir))
	add(checkPathList("cni-bin-dir", c.CNIBinDir))
	add(checkImageRef("pod-sandbox-image", c.PodSandboxImage))
	if _, _, err := splitHostPort(c.StreamAddress); err != nil {
		add(invalid("stream-address", "%v", err))
	}
	if c.JournalRetention < 0 {
		add(invalid("journal-retention", "%s is negative", c.JournalRetention))
	}
	return errors.Join(errs...)
}

func checkAbsDir(key, p string) error {
	switch {
	case p == "":
		return invalid(key, "must not be empty")
	case !filepath.IsAbs(p):
		return invalid(key, "%q is a relative path; an absolute path is required", p)
	case strings.ContainsRune(p, 0):
		return invalid(key, "%q contains a NUL byte", p)
	}
	return nil
}

func checkPathList(key, list string) error {
	if list == "" {
		return invalid(key, "must not be empty")
	}
	for _, p := range filepath.SplitList(list) {
		if err := checkAbsDir(key, p); err != nil {
			return err
		}
	}
	return nil
}

// checkRuntimePath accepts an absolute path or a bare name for a PATH
// search; "./runc" or "bin/runc" would depend on the daemon's working
// directory, which nobody controls.
func checkRuntimePath(p string) error {
	switch {
	case p == "":
		return invalid("runtime-path", "must not be empty")
	case filepath.IsAbs(p), !strings.ContainsRune(p, '/'):
		return nil
	}
	return invalid("runtime-path", "%q is a relative path; give an absolute path or a bare name to look up in PATH", p)
}

func checkMetricsAddress(addr string, allowNonLoopback bool) error {
	if addr == "" {
		return nil // disabled
	}
	host, _, err := splitHostPort(addr)
	if err != nil {
		return invalid("metrics-address", "%v", err)
	}
	if allowNonLoopback || isLoopback(host) {
		return nil
	}
	return invalid("metrics-address", "%q listens beyond loopback; set metrics-allow-non-loopback to allow it", addr)
}

// isLoopback reports whether host names only loopback interfaces. An empty
// host means all interfaces. Names other than "localhost" are not resolved:
// the answer must not depend on DNS.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// splitHostPort checks a listen address: host:port with a numeric port. The
// host may be empty (all interfaces), an IP literal or a name.
func splitHostPort(addr string) (host string, port int, err error) {
	if addr == "" {
		return "", 0, fmt.Errorf("must not be empty")
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port: %v", addr, err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, p)
	}
	if strings.ContainsAny(host, " /") {
		return "", 0, fmt.Errorf("%q: %q is not a host", addr, host)
	}
	return host, port, nil
}

// checkMirrors validates registry-mirrors: each key a registry host (with an
// optional port, no scheme or path), each value a non-empty list of
// absolute http(s) URLs without credentials, query or fragment. Plain http
// is allowed here (and only here) because mirrors are commonly local.
func checkMirrors(m map[string][]string) error {
	for _, host := range slices.Sorted(maps.Keys(m)) {
		if err := checkRegistryHost(host); err != nil {
			return invalid("registry-mirrors", "%q: %v", host, err)
		}
		urls := m[host]
		if len(urls) == 0 {
			return invalid("registry-mirrors", "%q: the list of endpoints is empty", host)
		}
		for _, raw := range urls {
			if err := checkEndpoint(raw); err != nil {
				return invalid("registry-mirrors", "%q: endpoint %q: %v", host, raw, err)
			}
		}
	}
	return nil
}

func checkRegistryHost(host string) error {
	if host == "" {
		return fmt.Errorf("empty registry host")
	}
	u, err := url.Parse("//" + host)
	if err != nil || u.Host != host || u.Path != "" || u.User != nil {
		return fmt.Errorf("not a registry host[:port] (no scheme, no path)")
	}
	if u.Port() != "" {
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("bad port %q", u.Port())
		}
	}
	return nil
}

func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("malformed URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme must be http or https")
	case u.Host == "":
		return fmt.Errorf("no host")
	case u.User != nil:
		return fmt.Errorf("credentials do not belong in a mirror URL")
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("query and fragment are not allowed")
	case u.Path != "" && u.Path != "/":
		// A mirror serves the registry API at its root, with the
		// repository paths of the registry it mirrors.
		return fmt.Errorf("a mirror URL has no path (want http(s)://host[:port])")
	}
	return nil
}

func checkImageRef(key, ref string) error {
	if ref == "" {
		return nil // the built-in pause image
	}
	if _, err := name.ParseReference(ref); err != nil {
		return invalid(key, "%q is not an image reference: %v", ref, err)
	}
	return nil
}
