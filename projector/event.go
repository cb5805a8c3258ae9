package projector

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

// Event is a decoded journal record: the envelope's fields and the typed
// payload. Payload is one of the messages of journal/events and, like every
// message a State keeps, is never mutated once decoded.
type Event struct {
	Seq         uint64
	Time        int64
	Type        events.Type
	SandboxID   string
	ContainerID string
	Payload     proto.Message
}

// Decode parses a journal record into an Event and checks the envelope's
// shape (see check); it never consults any state.
func Decode(r journal.Record) (Event, error) {
	t := events.Type(r.Type)
	m, err := events.Decode(t, r.Payload)
	if err != nil {
		return Event{}, fmt.Errorf("record %d: %w", r.Seq, err)
	}
	e := Event{Seq: r.Seq, Time: r.Time, Type: t, SandboxID: r.SandboxID, ContainerID: r.ContainerID, Payload: m}
	if err := check(e); err != nil {
		return Event{}, err
	}
	return e, nil
}

// aggregate is the part of an event type before the dot.
func aggregate(t events.Type) string {
	a, _, _ := strings.Cut(string(t), ".")
	return a
}

// check validates what an event must carry whatever the state: the IDs its
// aggregate needs, a payload of the type's message, and the fields without
// which the fold could not index the object. Apply calls it too, so a
// hand-built Event cannot slip past.
func check(e Event) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: record %d (%s): %s", ErrBadEvent, e.Seq, e.Type, fmt.Sprintf(format, args...))
	}
	if e.Payload == nil {
		return bad("no payload")
	}
	// IDs end up in protobuf strings (snapshots, every CRI answer), which
	// must be UTF-8: one bad ID folded in would fail every later snapshot
	// and every list that shows it.
	if !utf8.ValidString(e.SandboxID) || !utf8.ValidString(e.ContainerID) {
		return bad("ids %q, %q are not UTF-8", e.SandboxID, e.ContainerID)
	}
	pt, err := events.TypeOf(e.Payload)
	if err != nil || pt != e.Type {
		return bad("payload is a %T", e.Payload)
	}
	switch aggregate(e.Type) {
	case "sandbox":
		if e.SandboxID == "" {
			return bad("no sandbox id")
		}
		if e.ContainerID != "" {
			return bad("a sandbox event names container %q", e.ContainerID)
		}
	case "container":
		if e.ContainerID == "" {
			return bad("no container id")
		}
		if e.Type == events.ContainerCreatingType && e.SandboxID == "" {
			return bad("no sandbox id")
		}
	case "image":
		if e.SandboxID != "" || e.ContainerID != "" {
			return bad("an image event names a sandbox or container")
		}
	}
	switch p := e.Payload.(type) {
	case *events.SandboxCreating:
		if p.GetConfig().GetMetadata() == nil {
			return bad("sandbox config has no metadata")
		}
	case *events.ContainerCreating:
		if p.GetConfig().GetMetadata() == nil {
			return bad("container config has no metadata")
		}
	case *events.ImagePulled:
		if p.GetImageId() == "" {
			return bad("no image id")
		}
	case *events.ImageTagged:
		if p.GetImageId() == "" || p.GetName() == "" {
			return bad("image id and name are both required")
		}
	case *events.ImageUntagged:
		if p.GetImageId() == "" || p.GetName() == "" {
			return bad("image id and name are both required")
		}
	case *events.ImageRemoved:
		if p.GetImageId() == "" {
			return bad("no image id")
		}
	}
	return nil
}
