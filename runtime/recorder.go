package runtime

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

// Appender is the one thing the command side needs of the journal.
type Appender interface {
	Append(ctx context.Context, recs ...journal.Record) (first uint64, err error)
}

var _ Appender = (*journal.Journal)(nil)

// Event is one transition to journal: the objects it concerns and its
// payload, a message of journal/events.
type Event struct {
	SandboxID   string
	ContainerID string
	Payload     proto.Message
}

// Recorder turns events into journal records and appends them, all of one
// call atomically. The journal's commit hook has folded them into the live
// projection by the time Record returns.
type Recorder struct {
	Journal Appender
}

// resultTimeout bounds an append made with Settle: long enough for a slow
// disk, short enough that a wedged journal does not hang a handler forever.
const resultTimeout = 30 * time.Second

// Record appends evs in order and returns the sequence number of the first.
// It is for intents: if ctx ends before the events are durable, nothing
// happened yet and the caller just returns the error.
func (r Recorder) Record(ctx context.Context, evs ...Event) (uint64, error) {
	recs := make([]journal.Record, len(evs))
	for i, e := range evs {
		t, b, err := events.Encode(e.Payload)
		if err != nil {
			return 0, err
		}
		recs[i] = journal.Record{Type: string(t), SandboxID: e.SandboxID, ContainerID: e.ContainerID, Payload: b}
	}
	first, err := r.Journal.Append(ctx, recs...)
	if err != nil {
		return 0, fmt.Errorf("journal %s: %w", describe(evs), err)
	}
	return first, nil
}

// Settle appends events that record side effects already performed (a
// result, an exit, a rollback). They must reach the journal even when the
// caller's context has ended, or the world and the journal would disagree
// until the next recovery, so the caller's cancellation is ignored and only
// a fixed bound applies.
func (r Recorder) Settle(ctx context.Context, evs ...Event) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resultTimeout)
	defer cancel()
	return r.Record(ctx, evs...)
}

func describe(evs []Event) string {
	if len(evs) == 0 {
		return "nothing"
	}
	t, _ := events.TypeOf(evs[0].Payload)
	id := evs[0].ContainerID
	if id == "" {
		id = evs[0].SandboxID
	}
	if len(evs) == 1 {
		return fmt.Sprintf("%s of %s", t, id)
	}
	return fmt.Sprintf("%s of %s and %d more", t, id, len(evs)-1)
}
