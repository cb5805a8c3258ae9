package shim

import "errors"

// Sentinel errors of the shim and of its protocol. Callers match them with
// errors.Is; the values that cross the socket travel as text, so the daemon
// side sees them wrapped in its own errors.
var (
	// ErrBadConfig: the shim's arguments are missing or inconsistent.
	ErrBadConfig = errors.New("shim: invalid configuration")

	// ErrMalformed: a record (pid file, exit file, control message) does
	// not parse.
	ErrMalformed = errors.New("shim: malformed record")

	// ErrFrameTooLarge: a frame announced a payload above MaxFramePayload.
	// The connection is unusable afterwards.
	ErrFrameTooLarge = errors.New("shim: frame too large")

	// ErrProtocol: a peer sent a frame that is not valid at that point of
	// the conversation.
	ErrProtocol = errors.New("shim: protocol violation")

	// ErrNoExit: the exit file does not exist (yet): the container has not
	// exited, or its shim died before it could record the exit. It wraps
	// fs.ErrNotExist.
	ErrNoExit = errors.New("shim: no exit recorded")

	// ErrNotShim: the process named by a pid file is gone, or is another
	// process that reuses the pid (its start time or boot differs).
	ErrNotShim = errors.New("shim: process is not the recorded shim")

	// ErrCreateFailed: runc create failed; the error text says what runc
	// printed.
	ErrCreateFailed = errors.New("shim: runc create failed")

	// ErrNoTerminal: a resize was asked of a container without a terminal.
	ErrNoTerminal = errors.New("shim: container has no terminal")
)
