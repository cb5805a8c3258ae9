package projector

import (
	"errors"
	"fmt"

	"github.com/logbook-cri/logbook/journal/events"
)

var (
	// ErrIllegalTransition: the event is well formed but the object it
	// names is in a state whose table has no row for it (or a row whose
	// guard fails). Every such error is a *TransitionError. In the live
	// store it means a bug upstream: the command side appended an event
	// the projection cannot fold.
	ErrIllegalTransition = errors.New("illegal transition")
	// ErrBadEvent: the envelope is malformed: an ID the event type needs is
	// missing, the payload is nil or of another type, or a required field
	// (sandbox or container metadata, image ID, image name) is empty.
	ErrBadEvent = errors.New("malformed event")
	// ErrOutOfOrder: the event's sequence number is not above the state's.
	// A state folds a journal strictly forwards.
	ErrOutOfOrder = errors.New("event out of order")
	// ErrBadSnapshot: the bytes are not a projection snapshot, or they
	// decode to an inconsistent state.
	ErrBadSnapshot = errors.New("malformed projection snapshot")
	// ErrSnapshotVersion: the snapshot was written by a logbook whose
	// snapshot format this build does not know. Rebuild the state from
	// events instead, or run the newer build.
	ErrSnapshotVersion = errors.New("unsupported projection snapshot version")
	// ErrUnfoldable: compaction met a record this build cannot fold
	// (undecodable, or an illegal transition). It compacts up to that
	// record and no further, so the evidence of the bug stays in the
	// journal.
	ErrUnfoldable = errors.New("journal record cannot be folded")
)

// TransitionError is the typed form of ErrIllegalTransition: which object,
// in which state, refused which event, and why when a guard refused it.
type TransitionError struct {
	// Object is "sandbox", "container" or "image".
	Object string
	ID     string
	// From is the object's state when the event arrived: one of the state
	// names of lifecycle.go, "Absent" for an ID never seen (or an image not
	// present), "Removed" for a removed sandbox or container.
	From  string
	Event events.Type
	// Reason is set when a row exists but its guard failed.
	Reason string
}

func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("%s: %s %s in state %s cannot take %s", ErrIllegalTransition, e.Object, e.ID, e.From, e.Event)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrIllegalTransition) hold.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }
