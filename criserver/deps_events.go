package criserver

import (
	"context"

	"github.com/logbook-cri/logbook/projector/eventstream"
)

// Events is the source of GetContainerEvents: each call opens a
// subscription of its own (a journal cursor and a private projection), so
// a slow client never holds up the daemon or other clients.
// eventstream.Feed implements it.
type Events interface {
	// Subscribe delivers the events of every record appended from now on.
	Subscribe(ctx context.Context) (*eventstream.Subscription, error)
	// Resume delivers the events of every record after seq after, then
	// live ones; a position the journal no longer holds is
	// journal.ErrCompacted (OutOfRange), one it never held
	// journal.ErrOutOfRange (OutOfRange).
	Resume(ctx context.Context, after uint64) (*eventstream.Subscription, error)
}

var _ Events = eventstream.Feed{}

// LastSeqHeader is the gRPC metadata key of a journal position on
// GetContainerEvents, both ways. A client sends it with the call to
// resume after the last record it processed; the daemon answers it in the
// response header with the position the stream starts after (its own
// choice when the client sent none). Each event carries its record's
// number as protobuf field eventstream.SeqField. See the README.
const LastSeqHeader = "logbook-last-seq"
