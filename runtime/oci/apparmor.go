package oci

import (
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Deprecated apparmor_profile spellings.
const (
	apparmorRuntimeDefault = "runtime/default"
	apparmorUnconfined     = "unconfined"
	apparmorLocalhost      = "localhost/"
)

// AppArmorProfile computes the process's AppArmor profile name ("" for
// none). The apparmor field wins over the deprecated apparmor_profile
// string; neither means runtime/default. Privileged containers are never
// confined. On a host without AppArmor, unconfined and runtime/default are
// honoured by doing nothing, and a named profile is unsupported: confining
// cannot be promised there. On an AppArmor host runtime/default is
// Host.AppArmorDefaultProfile. Whether a named profile is loaded is for the
// caller to check (it needs /sys/kernel/security).
func AppArmorProfile(sp *runtimeapi.SecurityProfile, legacy string, privileged bool, host Host) (string, error) {
	var kind runtimeapi.SecurityProfile_ProfileType
	var name string
	switch {
	case sp != nil:
		kind = sp.GetProfileType()
		if kind == runtimeapi.SecurityProfile_Localhost {
			name = strings.TrimPrefix(sp.GetLocalhostRef(), apparmorLocalhost)
			if name == "" {
				return "", invalidf("linux.security_context.apparmor.localhost_ref is empty")
			}
		} else if kind != runtimeapi.SecurityProfile_RuntimeDefault && kind != runtimeapi.SecurityProfile_Unconfined {
			return "", invalidf("linux.security_context.apparmor.profile_type %d is unknown", int32(kind))
		}
	case legacy == "" || legacy == apparmorRuntimeDefault:
		kind = runtimeapi.SecurityProfile_RuntimeDefault
	case legacy == apparmorUnconfined:
		kind = runtimeapi.SecurityProfile_Unconfined
	case strings.HasPrefix(legacy, apparmorLocalhost) && len(legacy) > len(apparmorLocalhost):
		kind, name = runtimeapi.SecurityProfile_Localhost, strings.TrimPrefix(legacy, apparmorLocalhost)
	default:
		return "", invalidf("linux.security_context.apparmor_profile %q is not runtime/default, unconfined or localhost/<name>", legacy)
	}
	if strings.ContainsAny(name, "\x00\n") {
		return "", invalidf("linux.security_context.apparmor: profile name %q contains a NUL or newline", name)
	}
	if privileged {
		return "", nil
	}
	switch kind {
	case runtimeapi.SecurityProfile_Localhost:
		if !host.AppArmor {
			return "", unsupportedf("linux.security_context.apparmor: profile %q requested but AppArmor is not enabled on this host", name)
		}
		return name, nil
	case runtimeapi.SecurityProfile_RuntimeDefault:
		if host.AppArmor {
			return host.AppArmorDefaultProfile, nil
		}
	}
	return "", nil
}
