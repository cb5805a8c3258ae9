package daemon

import "errors"

var (
	// ErrLocked: another process holds a lock file of the daemon: a second
	// logbookd with the same state or root directory, or the same socket.
	// The error names the lock file and, when it can, the holder's pid.
	ErrLocked = errors.New("held by another logbookd")
	// ErrSocketInUse: something answers on the socket path: another daemon
	// serves there. Its socket is left alone.
	ErrSocketInUse = errors.New("socket is in use: another daemon answers on it")
	// ErrNotSocket: the socket path exists and is not a socket; logbookd
	// will not delete a file it did not create.
	ErrNotSocket = errors.New("path exists and is not a socket")
)
