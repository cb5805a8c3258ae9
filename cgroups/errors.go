package cgroups

import "errors"

var (
	// ErrNoCgroups means the host has no cgroup filesystem mounted at all:
	// no container can be constrained or measured.
	ErrNoCgroups = errors.New("cgroups: no cgroup filesystem is mounted")

	// ErrUnknownDriver is returned for a cgroup driver name that is neither
	// "cgroupfs" nor "systemd".
	ErrUnknownDriver = errors.New("cgroups: unknown cgroup driver")

	// ErrSystemdUnavailable is returned when the systemd cgroup driver is
	// asked for on a host where systemd is not the init system: runc's
	// systemd driver would have no manager to create its scopes.
	ErrSystemdUnavailable = errors.New("cgroups: the systemd cgroup driver needs systemd as the init system")

	// ErrInvalidPath is returned for a cgroup directory that is not an
	// absolute, clean path, or a cgroup path that a mount does not show.
	ErrInvalidPath = errors.New("cgroups: invalid cgroup path")

	// ErrInvalidState is returned when runc's state.json cannot be decoded
	// or records no cgroup.
	ErrInvalidState = errors.New("cgroups: invalid runc state")

	// ErrNotExist is returned when a cgroup's directory is gone: the
	// container's cgroup was removed (or is being removed). Errors wrapping
	// it also match fs.ErrNotExist.
	ErrNotExist = errors.New("cgroups: cgroup does not exist")

	// ErrNoController is returned when a cgroup handle has no directory for
	// the controller an operation needs (e.g. OOMKills without memory).
	ErrNoController = errors.New("cgroups: controller not present in cgroup")

	// ErrBusy is returned by Remove when a directory still holds processes
	// (or child cgroups it could not remove): the kernel refuses rmdir.
	ErrBusy = errors.New("cgroups: cgroup is busy")

	// ErrMalformed is returned when a cgroup interface file does not have
	// the format the kernel documents.
	ErrMalformed = errors.New("cgroups: malformed cgroup file")
)
