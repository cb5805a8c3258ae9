package events

import "errors"

var (
	// ErrUnknownType: the type string names no event of this schema (a
	// journal written by a newer logbook, or corruption).
	ErrUnknownType = errors.New("unknown event type")
	// ErrBadPayload: the payload bytes do not parse as the type's message.
	ErrBadPayload = errors.New("malformed event payload")
)
