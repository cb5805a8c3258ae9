package eventstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/projector"
)

// SeqField is the protobuf field number under which every message carries
// the sequence number of its journal record (a varint). The CRI's
// ContainerEventResponse does not define it, so CRI clients skip it as an
// unknown field; a client that wants it declares
//
//	uint64 logbook_journal_seq = 100000;
//
// in its copy of ContainerEventResponse, or reads it with SeqOf.
const SeqField protowire.Number = 100000

// Journal is what a subscription reads: *journal.Journal implements it.
type Journal interface {
	projector.Replayer
	Bounds(ctx context.Context) (first, last uint64, err error)
	Tail(ctx context.Context, from uint64) (journal.Cursor, error)
}

// Live is the live projection a new subscription starts from:
// *projector.Store implements it.
type Live interface {
	// Snapshot returns a private copy of the state at the store's
	// position, one that forgets old tombstones when the store does.
	Snapshot() *projector.State
	// Attach makes a state rebuilt from the journal (Resume's) forget old
	// tombstones when the store does, as Snapshot's copies do.
	Attach(*projector.State)
}

var (
	_ Journal = (*journal.Journal)(nil)
	_ Live    = (*projector.Store)(nil)
)

// Metrics receives a subscription's measurements; metrics.Lifecycle
// implements it. Subscribed and Unsubscribed come once each per
// subscription, Delivered once per Event that Next returns.
type Metrics interface {
	Subscribed()
	// Delivered reports the messages of one record, appended at
	// recordTime (unix ns), as Next hands them out.
	Delivered(messages int, recordTime int64)
	// Unsubscribed reports the messages the subscription delivered in all.
	Unsubscribed(messages int)
}

// Options tune a subscription; the zero value is usable.
type Options struct {
	// Logger receives the records the fold steps over (at debug level: the
	// live store logs them once as errors). Nil discards.
	Logger  *slog.Logger
	Metrics Metrics
}

// Event is the CRI messages of one journal record, in order. Each carries
// Seq as field SeqField.
type Event struct {
	Seq uint64
	// Time is the record's append time, unix ns (the messages' created_at).
	Time     int64
	Messages []*runtimeapi.ContainerEventResponse
}

// Subscription is one subscriber's view of the journal: its own cursor and
// its own projection. Next is for one goroutine at a time; Close may be
// called from any.
type Subscription struct {
	cur     journal.Cursor
	batch   journal.BatchCursor // cur, when it hands out batches
	state   *projector.State    // private; only Next touches it
	pending []journal.Record    // fetched, not folded yet
	pos     atomic.Uint64       // last record folded (or stepped over)

	log       *slog.Logger
	metrics   Metrics
	delivered atomic.Int64 // messages handed out

	closeOnce sync.Once
}

// batchSize is how many records one read of the cursor fetches: enough to
// catch up from disk quickly, small enough to keep a slow subscriber's
// buffer modest.
const batchSize = 256

// Subscribe starts a subscription at the live store's position: it
// delivers the events of every record appended from now on. ctx bounds the
// subscription's life (its cursor ends with it).
func Subscribe(ctx context.Context, j Journal, live Live, o Options) (*Subscription, error) {
	st := live.Snapshot()
	cur, err := j.Tail(ctx, st.Seq()+1)
	if err != nil {
		return nil, fmt.Errorf("eventstream: subscribe at %d: %w", st.Seq(), err)
	}
	return newSubscription(cur, st, o), nil
}

// Resume starts a subscription after record after: it delivers the events
// of every later record, those already in the journal first, then live
// ones. after == 0 replays the whole journal. A position before the
// retained journal is journal.ErrCompacted (its events are gone: the
// client must relist); one beyond the last record is journal.ErrOutOfRange
// (a position of another journal).
func Resume(ctx context.Context, j Journal, after uint64, o Options) (*Subscription, error) {
	log := logger(o)
	// Compaction never drops a record an open cursor has yet to read, but
	// it may move the snapshot Load starts from between the two calls: a
	// retry finds the new one.
	var lastErr error
	for range 3 {
		first, last, err := j.Bounds(ctx)
		if err != nil {
			return nil, fmt.Errorf("eventstream: resume: %w", err)
		}
		if after > last {
			return nil, fmt.Errorf("eventstream: %w: resume after %d, but the journal's last record is %d (a position of another journal?)", journal.ErrOutOfRange, after, last)
		}
		if after+1 < first {
			return nil, fmt.Errorf("eventstream: %w: resume after %d, but the journal keeps records %d to %d (older ones are compacted into a snapshot); list the pods again and subscribe afresh", journal.ErrCompacted, after, first, last)
		}
		cur, err := j.Tail(ctx, after+1)
		if err != nil {
			return nil, fmt.Errorf("eventstream: resume after %d: %w", after, err)
		}
		st := projector.NewState()
		if after > 0 {
			st, err = projector.Load(ctx, j, after, func(r journal.Record, err error) {
				log.Debug("eventstream: record stepped over", "seq", r.Seq, "type", r.Type, "err", err)
			})
		}
		if err != nil {
			cur.Close()
			if errors.Is(err, journal.ErrCompacted) {
				lastErr = err
				continue
			}
			return nil, fmt.Errorf("eventstream: resume after %d: %w", after, err)
		}
		s := newSubscription(cur, st, o)
		s.pos.Store(after)
		return s, nil
	}
	return nil, fmt.Errorf("eventstream: resume after %d: %w", after, lastErr)
}

func newSubscription(cur journal.Cursor, st *projector.State, o Options) *Subscription {
	s := &Subscription{cur: cur, state: st, log: logger(o), metrics: o.Metrics}
	s.batch, _ = cur.(journal.BatchCursor)
	s.pos.Store(st.Seq())
	if s.metrics != nil {
		s.metrics.Subscribed()
	}
	return s
}

func logger(o Options) *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Position is the sequence number of the last record the subscription has
// folded, whether or not it produced messages: resuming after it misses
// nothing and repeats nothing. Right after Subscribe or Resume it is the
// starting position.
func (s *Subscription) Position() uint64 { return s.pos.Load() }

// Next returns the messages of the next record that has any, blocking
// until one is appended or ctx, the subscription's own context, the
// subscription or the journal ends (the cursor's error: ctx.Err(),
// journal.ErrClosed, ...). A cancelled ctx leaves the subscription usable.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		if len(s.pending) == 0 {
			recs, err := s.fetch(ctx)
			if err != nil {
				return Event{}, err
			}
			s.pending = recs
		}
		r := s.pending[0]
		s.pending[0] = journal.Record{}
		s.pending = s.pending[1:]
		msgs := s.fold(r)
		s.pos.Store(r.Seq)
		if len(msgs) == 0 {
			continue
		}
		s.delivered.Add(int64(len(msgs)))
		if s.metrics != nil {
			s.metrics.Delivered(len(msgs), r.Time)
		}
		return Event{Seq: r.Seq, Time: r.Time, Messages: msgs}, nil
	}
}

func (s *Subscription) fetch(ctx context.Context) ([]journal.Record, error) {
	if s.batch != nil {
		return s.batch.NextBatch(ctx, batchSize)
	}
	r, err := s.cur.Next(ctx)
	if err != nil {
		return nil, err
	}
	return []journal.Record{r}, nil
}

// fold applies one record to the private state and returns its messages,
// stamped with its sequence number. A record the fold refuses is stepped
// over, as the live store steps over it.
func (s *Subscription) fold(r journal.Record) []*runtimeapi.ContainerEventResponse {
	e, err := projector.Decode(r)
	if err == nil {
		err = s.state.Apply(e)
	}
	if err != nil {
		s.log.Debug("eventstream: record stepped over", "seq", r.Seq, "type", r.Type, "err", err)
		return nil
	}
	msgs := s.state.CRIEvents(e)
	stamp(msgs, r.Seq)
	return msgs
}

// stamp appends seq to each message as field SeqField, unknown to the CRI's
// schema (see doc.go). The messages are new (CRIEvents builds them for this
// record), so nothing shared with the projection is touched.
func stamp(msgs []*runtimeapi.ContainerEventResponse, seq uint64) {
	for _, m := range msgs {
		b := protowire.AppendTag(nil, SeqField, protowire.VarintType)
		b = protowire.AppendVarint(b, seq)
		m.ProtoReflect().SetUnknown(append(m.ProtoReflect().GetUnknown(), b...))
	}
}

// SeqOf returns the journal sequence number a message carries (field
// SeqField), for clients written in Go: the generated CRI types keep the
// field among their unknown fields.
func SeqOf(m *runtimeapi.ContainerEventResponse) (uint64, bool) {
	b := m.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == SeqField && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			return v, n >= 0
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
	}
	return 0, false
}

// Close ends the subscription and releases its cursor; a Next blocked in
// another goroutine returns.
func (s *Subscription) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.cur.Close()
		if s.metrics != nil {
			s.metrics.Unsubscribed(int(s.delivered.Load()))
		}
	})
	return err
}

// Feed opens subscriptions on one journal and its live store: the
// daemon's event source (criserver.Events).
type Feed struct {
	Journal Journal
	Live    Live
	Options Options
}

// Subscribe: see the package function.
func (f Feed) Subscribe(ctx context.Context) (*Subscription, error) {
	return Subscribe(ctx, f.Journal, f.Live, f.Options)
}

// Resume: see the package function. The subscription's state follows
// the live store's retention passes (Live.Attach), as a subscription
// from Subscribe does.
func (f Feed) Resume(ctx context.Context, after uint64) (*Subscription, error) {
	s, err := Resume(ctx, f.Journal, after, f.Options)
	if err != nil {
		return nil, err
	}
	f.Live.Attach(s.state)
	return s, nil
}
