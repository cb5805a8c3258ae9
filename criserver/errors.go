package criserver

import "errors"

var (
	// ErrMissingField: a request lacks a field the CRI requires (an ID, a
	// config, a metadata name). Answered with InvalidArgument naming the
	// field.
	ErrMissingField = errors.New("missing required field")
	// ErrInvalidField: a field is present but malformed in a way the CRI's
	// shape alone rules out (a negative timeout, an unparsable CIDR).
	// Answered with InvalidArgument.
	ErrInvalidField = errors.New("invalid field")
	// ErrNotImplemented: the method is part of the CRI but logbook does not
	// serve it yet. Answered with Unimplemented.
	ErrNotImplemented = errors.New("not implemented yet")
	// ErrFeatureDisabled: the method is served only when a config key
	// enables it (GetContainerEvents and "enable-pod-events"); the
	// message names the key. Answered with FailedPrecondition.
	ErrFeatureDisabled = errors.New("feature disabled")
)
