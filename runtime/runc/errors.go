package runc

import (
	"errors"
	"strings"
)

// Sentinel errors. Callers match them with errors.Is; criserver maps them to
// gRPC codes.
var (
	// ErrRuncFailed: runc ran and failed. The error is a *RuncError
	// carrying runc's message.
	ErrRuncFailed = errors.New("runc failed")

	// ErrNotFound: runc does not know the container (it also matches
	// ErrRuncFailed).
	ErrNotFound = errors.New("container not found")

	// ErrNotRunning: the operation needs a running (or created) container
	// and it has stopped (it also matches ErrRuncFailed).
	ErrNotRunning = errors.New("container not running")

	// ErrShimFailed: the shim could not be launched, or it ended before
	// reporting readiness; the message quotes its log.
	ErrShimFailed = errors.New("shim failed")

	// ErrShimGone: there is no live shim for a state directory (the
	// process is gone or its pid now belongs to another process).
	ErrShimGone = errors.New("shim is gone")

	// ErrShimDied: the shim ended without recording the container's exit
	// (it was killed, or crashed). The container's fate is unknown to the
	// shim; runc state may still tell.
	ErrShimDied = errors.New("shim died without recording an exit")

	// ErrStateDirInUse: Create was given a state directory that already
	// belongs to a shim.
	ErrStateDirInUse = errors.New("shim state directory in use")

	// ErrInvalid: bad arguments (empty id, relative paths, a terminal
	// process given to Exec, ...).
	ErrInvalid = errors.New("invalid argument")
)

// RuncError is a failed runc command: which, on which container, and what
// runc said. It matches ErrRuncFailed, and ErrNotFound or ErrNotRunning when
// runc's message says so.
type RuncError struct {
	Command string // runc subcommand: create, start, kill, ...
	ID      string // container id, "" for list
	Message string // runc's own error message (or how it exited)
}

func (e *RuncError) Error() string {
	s := "runc " + e.Command
	if e.ID != "" {
		s += " " + e.ID
	}
	return s + ": " + e.Message
}

// Is makes errors.Is see the sentinels this failure stands for.
func (e *RuncError) Is(target error) bool {
	return target == ErrRuncFailed || (target != nil && target == classify(e.Message))
}

// classify maps runc's message to a sentinel, or nil. runc 1.1 ends its
// message with "container does not exist" for an unknown id (exec prefixes
// "exec failed: "), and says "container not running" or "cannot start a
// container that has stopped" when the container has exited. Only the end
// of the message is matched: "does not exist" inside a longer message is
// about something else (a rootfs, a mount source). `kill --all` on cgroup
// v1 freezes the container first, and one that stopped meanwhile answers
// "invalid state transition from stopped to paused": stopped too.
func classify(msg string) error {
	switch {
	case strings.HasSuffix(msg, "container does not exist"):
		return ErrNotFound
	case strings.HasSuffix(msg, "container not running"),
		strings.HasSuffix(msg, "container that has stopped"),
		strings.HasPrefix(msg, "invalid state transition from stopped to "):
		return ErrNotRunning
	}
	return nil
}
