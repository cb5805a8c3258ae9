package image

import (
	"errors"
	"fmt"
)

// The classes of every error the store returns. Each names the gRPC code
// criserver maps it to; an error of Pull always wraps exactly one of them.
var (
	// ErrInvalidReference: the reference does not parse, or names a digest
	// algorithm other than sha256. -> InvalidArgument.
	ErrInvalidReference = errors.New("image: invalid reference")
	// ErrInvalidAuth: the credentials are malformed (auth is not base64 of
	// "user:password"). -> InvalidArgument.
	ErrInvalidAuth = errors.New("image: invalid credentials")
	// ErrInvalidImage: the registry served something that is not a usable
	// image: a schema 1 or unknown manifest, a config that does not parse
	// or does not match the layers, a layer the unpacker refuses (a path
	// escape, a bad link; see package archive). -> InvalidArgument.
	ErrInvalidImage = errors.New("image: invalid image")
	// ErrNotFound: the repository, tag or digest is unknown to every
	// endpoint, no manifest matches the platform, or (Lowers) a snapshot is
	// missing. -> NotFound.
	ErrNotFound = errors.New("image: not found")
	// ErrUnauthenticated: the registry refused the credentials, or wanted
	// some. -> Unauthenticated.
	ErrUnauthenticated = errors.New("image: unauthenticated")
	// ErrUnavailable: no endpoint could be reached or answered sensibly
	// (connection refused, TLS failure, 5xx, 429, a blob that does not
	// hash to its digest). Retrying may help. -> Unavailable.
	ErrUnavailable = errors.New("image: registry unavailable")
	// ErrDeadlineExceeded: the caller's deadline passed. -> DeadlineExceeded.
	ErrDeadlineExceeded = errors.New("image: deadline exceeded")
	// ErrCanceled: the caller cancelled. -> Canceled.
	ErrCanceled = errors.New("image: canceled")
	// ErrStorage: the local disk failed (no space, I/O error). -> Internal.
	ErrStorage = errors.New("image: local storage failure")
)

// Errors that refine a class. Each wraps its class.
var (
	// ErrDigestMismatch: a blob's bytes do not hash to the digest (or size)
	// its descriptor names. Nothing of it is kept.
	ErrDigestMismatch = fmt.Errorf("%w: content does not match its digest", ErrUnavailable)
	// ErrClosed: the store was closed.
	ErrClosed = fmt.Errorf("%w: store closed", ErrUnavailable)
	// ErrLocked: another process holds the store's root.
	ErrLocked = fmt.Errorf("%w: store root locked by another process", ErrStorage)
	// ErrInvalidOptions: Open was given an unusable option (a mirror URL
	// with a path or an unknown scheme).
	ErrInvalidOptions = errors.New("image: invalid options")
)

// Outcome labels err for metrics and logs: "ok" for nil, else the name of
// the gRPC code its class maps to ("not_found", "unavailable", ...), or
// "unknown" for an error of no class (which would be a bug).
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrInvalidReference), errors.Is(err, ErrInvalidAuth), errors.Is(err, ErrInvalidImage):
		return "invalid_argument"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrUnauthenticated):
		return "unauthenticated"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrDeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, ErrCanceled):
		return "canceled"
	case errors.Is(err, ErrStorage):
		return "internal"
	}
	return "unknown"
}
