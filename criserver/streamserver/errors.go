package streamserver

import "errors"

// Errors of the streaming server; criserver maps them to gRPC codes.
var (
	// ErrTooManySessions: as many streaming URLs as the server allows are
	// outstanding, handed out and not yet used or expired
	// (ResourceExhausted).
	ErrTooManySessions = errors.New("too many streaming sessions pending")
	// ErrClosed: the server is shut down (Unavailable).
	ErrClosed = errors.New("streaming server closed")
)
