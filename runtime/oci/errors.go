package oci

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid: the CRI request is malformed or contradicts itself (a
	// relative mount path, run_as_group without a user, a host-IPC pod asking
	// for an IPC sysctl, ...). The message names the offending field. The
	// server maps it to InvalidArgument.
	ErrInvalid = errors.New("invalid argument")

	// ErrUnsupported: the request is well formed but this runtime or this
	// host cannot honour it (an AppArmor profile on a host without AppArmor,
	// cgroup v2 "unified" resources on a v1 host, user namespaces, image
	// volumes not prepared by the caller). The server maps it to
	// Unimplemented.
	ErrUnsupported = errors.New("unsupported")

	// ErrBadInput: the caller (the runtime) handed in facts that do not fit
	// the request: a namespace path missing for a namespace the container
	// joins, a device it did not resolve, a relative rootfs. It is a bug in
	// logbook, not in the client; the server maps it to Internal.
	ErrBadInput = errors.New("incomplete or inconsistent input")

	// ErrUnknownUser: a user name (run_as_username or the image's USER) is
	// not in the image's /etc/passwd. Always wrapped together with
	// ErrInvalid.
	ErrUnknownUser = errors.New("no such user in the image's /etc/passwd")

	// ErrUnknownGroup: a group name of the image's USER is not in the
	// image's /etc/group. Always wrapped together with ErrInvalid.
	ErrUnknownGroup = errors.New("no such group in the image's /etc/group")
)

// invalidf builds an ErrInvalid error; format may itself use %w to wrap a
// second sentinel.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

func badInputf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadInput}, args...)...)
}

// within puts the field an error concerns in front of its detail, keeping
// the sentinel first: "invalid argument: x" becomes
// "invalid argument: <field>: x".
func within(field string, err error) error {
	for _, s := range []error{ErrInvalid, ErrUnsupported, ErrBadInput} {
		if errors.Is(err, s) {
			return fmt.Errorf("%w: %s: %s", s, field, strings.TrimPrefix(err.Error(), s.Error()+": "))
		}
	}
	return fmt.Errorf("%s: %w", field, err)
}
