package stats

import "errors"

var (
	// ErrMalformed: a kernel file (/proc/net/dev) does not have the
	// format the kernel documents.
	ErrMalformed = errors.New("stats: malformed kernel file")
)

// An unknown container or sandbox is runtime.ErrNotFound (NotFound), as
// for every other operation on it.
