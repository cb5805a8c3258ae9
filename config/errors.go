package config

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownKey: the file names a key this build does not know. A typo
	// must not silently fall back to a default.
	ErrUnknownKey = errors.New("unknown key")
	// ErrInvalidValue: a key has a value of the wrong JSON type or one that
	// fails validation (relative path, bad duration, malformed URL, ...).
	ErrInvalidValue = errors.New("invalid value")
	// ErrDuplicateKey: the file sets the same key twice; which one wins
	// would be an accident of the decoder.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrSyntax: the file is not one JSON object.
	ErrSyntax = errors.New("malformed config file")
	// ErrNotFound: a config file named explicitly does not exist.
	ErrNotFound = errors.New("no such file")
	// ErrCRIv1Disabled: "enable-cri-v1" is false, but CRI v1 is the only API
	// logbookd serves, so there would be nothing to run.
	ErrCRIv1Disabled = errors.New("CRI v1 is the only API logbookd serves and cannot be disabled")
)

// KeyError ties a problem to the configuration key that caused it, so that
// every startup error names what the operator has to change.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("key %q: %v", e.Key, e.Err) }

func (e *KeyError) Unwrap() error { return e.Err }

// invalid builds a KeyError that wraps ErrInvalidValue with a reason.
func invalid(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidValue)}
}
