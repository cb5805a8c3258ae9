package runtime

import "errors"

// Sentinel errors of the command side. The aggregates (runtime/sandbox,
// runtime/container, runtime/images) wrap them with %w and the object's ID;
// criserver maps them to gRPC codes.
var (
	// ErrNotFound: no such sandbox, container or image (NotFound).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the name (metadata name, namespace, uid, attempt)
	// is taken by a live object (AlreadyExists).
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: the request is well-formed CRI but asks for
	// something logbook refuses (InvalidArgument).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: the object is in a state that forbids the
	// operation, e.g. exec into a stopped container (FailedPrecondition).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnsupported: a CRI feature this runtime or host does not offer
	// (Unimplemented).
	ErrUnsupported = errors.New("not supported")
)
