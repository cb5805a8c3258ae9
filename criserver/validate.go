package criserver

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// This file checks the CRI shape of requests: fields the API requires, and
// values the API alone rules out. Whether an ID names an existing object is
// not shape; that is the runtime's to answer (NotFound).

// field is one requirement on a request: its CRI name (as in api.proto, so
// a client can find it) and whether the request satisfies it.
type field struct {
	name string
	ok   bool
}

// id requires a non-empty string field.
func id(name, v string) field { return field{name, v != ""} }

// present requires a message (or any value) field to be set.
func present(name string, set bool) field { return field{name, set} }

// require returns an error naming every unmet requirement, wrapping
// ErrMissingField (InvalidArgument), or nil.
func require(fields ...field) error {
	var errs []error
	for _, f := range fields {
		if !f.ok {
			errs = append(errs, fmt.Errorf("%w: %s", ErrMissingField, f.name))
		}
	}
	return errors.Join(errs...)
}

// invalidField reports a malformed field, wrapping ErrInvalidField.
func invalidField(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidField, name, fmt.Sprintf(format, args...))
}

// notImplemented is what every method not served yet returns.
func notImplemented(method string) error {
	return fmt.Errorf("%s: %w", method, ErrNotImplemented)
}

// maxNameLen bounds each metadata string that names an object (name,
// namespace, uid, attempt aside). Kubernetes' own are at most 253 bytes.
const maxNameLen = 1024

// names checks metadata strings (CRI name, value pairs) that name objects:
// they reach the CNI plugins in the environment (K8S_POD_NAME and the
// like), logs and the journal, so a NUL (which no environment, argument or
// path can carry) or a length past any real name is refused, wrapping
// ErrInvalidField, before anything is done.
func names(pairs ...string) error {
	var errs []error
	for i := 0; i+1 < len(pairs); i += 2 {
		name, v := pairs[i], pairs[i+1]
		switch {
		case strings.IndexByte(v, 0) >= 0:
			errs = append(errs, invalidField(name, "contains a NUL byte"))
		case len(v) > maxNameLen:
			errs = append(errs, invalidField(name, "is %d bytes long, more than %d", len(v), maxNameLen))
		}
	}
	return errors.Join(errs...)
}

// portMappings checks a pod's port mappings as the API spells them: ports
// are 16-bit, a published host port needs a container port, the protocol
// is one of the enum's. (The network refuses them too, but only once the
// sandbox is being made.)
func portMappings(pms []*runtimeapi.PortMapping) error {
	var errs []error
	for i, pm := range pms {
		name := fmt.Sprintf("config.port_mappings[%d]", i)
		switch {
		case pm.GetHostPort() < 0 || pm.GetHostPort() > math.MaxUint16:
			errs = append(errs, invalidField(name+".host_port", "%d is not a port", pm.GetHostPort()))
		case pm.GetContainerPort() < 0 || pm.GetContainerPort() > math.MaxUint16:
			errs = append(errs, invalidField(name+".container_port", "%d is not a port", pm.GetContainerPort()))
		case pm.GetHostPort() > 0 && pm.GetContainerPort() == 0:
			errs = append(errs, invalidField(name+".container_port", "is 0, but host port %d is published", pm.GetHostPort()))
		}
		if _, ok := runtimeapi.Protocol_name[int32(pm.GetProtocol())]; !ok {
			errs = append(errs, invalidField(name+".protocol", "%d is not a protocol", int32(pm.GetProtocol())))
		}
	}
	return errors.Join(errs...)
}

// argv checks a command line: an argument with a NUL cannot be passed to
// execve, so it is refused here rather than failing inside the container.
func argv(name string, args []string) error {
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return invalidField(fmt.Sprintf("%s[%d]", name, i), "contains a NUL byte")
		}
	}
	return nil
}

// podFields checks what a pod's config spells for files the runtime
// writes: the log directory is an absolute path, and the DNS config's
// servers are IP addresses and its searches and options single tokens of
// resolv.conf (a newline in one would write lines of its own).
func podFields(cfg *runtimeapi.PodSandboxConfig) error {
	var errs []error
	if d := cfg.GetLogDirectory(); d != "" && (!filepath.IsAbs(d) || strings.IndexByte(d, 0) >= 0) {
		errs = append(errs, invalidField("config.log_directory", "%q is not an absolute path", d))
	}
	if strings.IndexByte(cfg.GetHostname(), 0) >= 0 {
		errs = append(errs, invalidField("config.hostname", "contains a NUL byte"))
	}
	dns := cfg.GetDnsConfig()
	for i, srv := range dns.GetServers() {
		if _, err := netip.ParseAddr(srv); err != nil {
			errs = append(errs, invalidField(fmt.Sprintf("config.dns_config.servers[%d]", i), "%q is not an IP address", srv))
		}
	}
	for _, f := range []struct {
		name string
		v    []string
	}{{"searches", dns.GetSearches()}, {"options", dns.GetOptions()}} {
		for i, v := range f.v {
			if v == "" || strings.ContainsAny(v, " \t\r\n\x00") {
				errs = append(errs, invalidField(fmt.Sprintf("config.dns_config.%s[%d]", f.name, i), "%q is not one word", v))
			}
		}
	}
	return errors.Join(errs...)
}
