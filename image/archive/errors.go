package archive

import (
	"errors"
	"fmt"
)

// ErrInvalid is the class of every error caused by the layer itself: a
// malformed or truncated tar stream, or an entry that tries something the
// unpacker refuses. A layer failing with ErrInvalid is a bad image, not a bad
// host; the image service reports it as InvalidArgument.
var ErrInvalid = errors.New("archive: invalid layer")

// The kinds of ErrInvalid that name a precise refusal. Each wraps ErrInvalid.
var (
	// ErrBreakout: an entry name or hard-link target climbs above the layer
	// root with "..". (Absolute names are not refused: tar names are always
	// relative to the root, so "/etc/passwd" means "etc/passwd".)
	ErrBreakout = fmt.Errorf("%w: path escapes the layer root", ErrInvalid)
	// ErrNotDir: a parent component of an entry is not a directory, or is a
	// symlink whose target (resolved inside the root) does not exist.
	ErrNotDir = fmt.Errorf("%w: parent is not a directory", ErrInvalid)
	// ErrLinkTarget: a hard link names a target that exists neither in this
	// layer nor in the layers below it, or one that cannot be linked (a
	// directory, a whiteout).
	ErrLinkTarget = fmt.Errorf("%w: bad hard link target", ErrInvalid)
	// ErrUnsupported: an entry type the unpacker does not know.
	ErrUnsupported = fmt.Errorf("%w: unsupported entry", ErrInvalid)
	// ErrBadHeader: a header field out of range (name, owner, whiteout name).
	ErrBadHeader = fmt.Errorf("%w: bad header", ErrInvalid)
)

// ErrHost is the class of errors the host caused while unpacking a valid
// entry: no space, an I/O error, a missing privilege (mknod without
// CAP_MKNOD). Retrying elsewhere or later may succeed.
var ErrHost = errors.New("archive: host filesystem failure")
