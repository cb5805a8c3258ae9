package rig

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/criserver"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/projector/eventstream"
)

// Event is one GetContainerEvents message as the checks compare it: its
// journal position, its type, its subject, and the subject's state as the
// message reports it.
type Event struct {
	Seq  uint64
	Type runtimeapi.ContainerEventType
	// ID is the container's, or the pod's for a pod's own event.
	ID string
	// State is the subject's status in the message: a pod's state, or a
	// container's state with its exit code and reason once exited.
	State string
}

func (e Event) String() string {
	return fmt.Sprintf("#%d %s %s %s", e.Seq, e.Type, short(e.ID), e.State)
}

// Summarize reduces a message to an Event.
func Summarize(m *runtimeapi.ContainerEventResponse, seq uint64) Event {
	e := Event{Seq: seq, Type: m.GetContainerEventType(), ID: m.GetContainerId()}
	if pod := m.GetPodSandboxStatus(); pod.GetId() == e.ID {
		e.State = pod.GetState().String()
		return e
	}
	e.State = "absent"
	for _, s := range m.GetContainersStatuses() {
		if s.GetId() != e.ID {
			continue
		}
		e.State = s.GetState().String()
		if s.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED {
			e.State += fmt.Sprintf(" %d %s", s.GetExitCode(), s.GetReason())
		}
	}
	return e
}

// Follower is a GetContainerEvents client that reconnects whenever its
// stream ends, resuming with logbook-last-seq after the last message it
// processed. It owns one goroutine, which Close stops.
type Follower struct {
	socket string

	mu      sync.Mutex
	started bool
	start   uint64 // the first stream's position: events after it are due
	got     []Event
	lastSeq uint64 // seq of the last message kept
	atLast  int    // messages kept with seq lastSeq
	streams int
	// problems are breaches of the protocol seen on the wire: a message
	// without its sequence number, a resumed stream that does not start
	// where asked, a redelivered message that differs.
	problems []string
	paused   bool
	resumed  chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

// Follow starts a follower of the daemon at socket. A stalled one opens
// its stream and reads nothing until Resume.
func Follow(socket string, stalled bool) *Follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower{socket: socket, paused: stalled, resumed: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	if !stalled {
		close(f.resumed)
	}
	go f.run(ctx)
	return f
}

// Resume lets a stalled follower read.
func (f *Follower) Resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused {
		f.paused = false
		close(f.resumed)
	}
}

// Close stops the follower and waits for its goroutine.
func (f *Follower) Close() {
	f.cancel()
	<-f.done
}

// Started tells whether a first stream was opened, and its position.
func (f *Follower) Started() (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.start, f.started
}

// Position is the journal position the follower has read up to.
func (f *Follower) Position() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return max(f.start, f.lastSeq)
}

// Streams is how many streams the follower has opened.
func (f *Follower) Streams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.streams
}

// Received returns the first stream's position, every event kept so far
// and the protocol problems seen.
func (f *Follower) Received() (start uint64, got []Event, problems []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.start, append([]Event(nil), f.got...), append([]string(nil), f.problems...)
}

// WaitFor waits until the follower has received n messages of records up
// to upto (records without messages leave no trace a client could wait
// on, so the caller counts what the journal says is due), or ctx ends.
func (f *Follower) WaitFor(ctx context.Context, upto uint64, n int) error {
	for {
		f.mu.Lock()
		have := 0
		for _, e := range f.got {
			if e.Seq <= upto {
				have++
			}
		}
		f.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the event follower has %d of the %d messages up to #%d: %w", have, n, upto, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitPosition waits until the follower has received a message of record
// seq or a later one, or ctx ends.
func (f *Follower) WaitPosition(ctx context.Context, seq uint64) error {
	for {
		f.mu.Lock()
		pos := f.lastSeq
		f.mu.Unlock()
		if pos >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the event follower is at #%d, waiting for #%d: %w", pos, seq, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// eventful are the record types that yield CRI messages (a removal of an
// object still being created, a rollback, yields none: LastEventful is a
// close bound, not an exact one).
var eventful = map[string]bool{
	"sandbox.ready": true, "sandbox.stopped": true, "sandbox.removed": true,
	"container.created": true, "container.started": true, "container.exited": true, "container.removed": true,
}

// LastEventful is the sequence number of the last of the journal's final
// records (up to last) that yields CRI messages, 0 if none of them does.
// It reads only the tail, so a driver can wait for its subscribers without
// making the daemon read the whole journal.
func LastEventful(ctx context.Context, src projector.Replayer, last uint64) (uint64, error) {
	from := uint64(1)
	if last > 64 {
		from = last - 64
	}
	var seq uint64
	err := src.Read(ctx, from, last, func(r journal.Record) error {
		if eventful[r.Type] {
			seq = r.Seq
		}
		return nil
	})
	return seq, err
}

func (f *Follower) run(ctx context.Context) {
	defer close(f.done)
	for ctx.Err() == nil {
		f.stream(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stream opens one stream and reads it to its end.
func (f *Follower) stream(ctx context.Context) {
	conn, err := grpc.NewClient("unix://"+f.socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	f.mu.Lock()
	started, after, redeliver := f.started, f.start, 0
	if f.lastSeq > 0 {
		// The record of the last message may have had more messages (a
		// sandbox.ready gives two): resume before it and drop what is
		// already kept of it.
		after, redeliver = f.lastSeq-1, f.atLast
	}
	f.mu.Unlock()
	if started {
		ctx = metadata.AppendToOutgoingContext(ctx, criserver.LastSeqHeader, strconv.FormatUint(after, 10))
	}
	s, err := runtimeapi.NewRuntimeServiceClient(conn).GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		return
	}
	md, err := s.Header()
	if err != nil {
		return
	}
	pos, perr := strconv.ParseUint(firstOf(md.Get(criserver.LastSeqHeader)), 10, 64)
	f.mu.Lock()
	f.streams++
	switch {
	case perr != nil:
		f.problem("stream %d: no %s header: %v", f.streams, criserver.LastSeqHeader, perr)
	case !started:
		f.started, f.start = true, pos
	case pos != after:
		f.problem("stream %d resumed after %d, asked after %d", f.streams, pos, after)
	}
	f.mu.Unlock()

	select {
	case <-f.resumed:
	case <-ctx.Done():
		return
	}
	for {
		m, err := s.Recv()
		if err != nil {
			return
		}
		seq, ok := eventstream.SeqOf(m)
		f.mu.Lock()
		if !ok {
			f.problem("a message without its sequence number: %v %s", m.GetContainerEventType(), short(m.GetContainerId()))
		}
		e := Summarize(m, seq)
		if redeliver > 0 {
			if seq == f.lastSeq {
				if want := f.got[len(f.got)-redeliver]; want != e {
					f.problem("redelivered %s differs from %s", e, want)
				}
				redeliver--
				f.mu.Unlock()
				continue
			}
			f.problem("after resuming at %d, %d message(s) of #%d were not redelivered", f.lastSeq-1, redeliver, f.lastSeq)
			redeliver = 0
		}
		f.got = append(f.got, e)
		if seq == f.lastSeq {
			f.atLast++
		} else {
			f.lastSeq, f.atLast = seq, 1
		}
		f.mu.Unlock()
	}
}

// problem records a protocol breach; f.mu is held.
func (f *Follower) problem(format string, args ...any) {
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// Expected computes from the journal the events a client that started
// after position after must have received up to position upto: the state
// at after is rebuilt (snapshot and records), and each record folded
// after it yields its CRI messages, exactly as the daemon builds them.
func Expected(ctx context.Context, src projector.Replayer, after, upto uint64) ([]Event, error) {
	if upto <= after {
		return nil, nil
	}
	st := projector.NewState()
	if after > 0 {
		var err error
		if st, err = projector.Load(ctx, src, after, nil); err != nil {
			return nil, err
		}
	}
	var out []Event
	err := src.Read(ctx, after+1, upto, func(r journal.Record) error {
		e, err := projector.Decode(r)
		if err != nil {
			return fmt.Errorf("record %d: %w", r.Seq, err)
		}
		if err := st.Apply(e); err != nil {
			return fmt.Errorf("record %d: %w", r.Seq, err)
		}
		for _, m := range st.CRIEvents(e) {
			out = append(out, Summarize(m, r.Seq))
		}
		return nil
	})
	return out, err
}

// Compare lists how got differs from want: events out of journal order,
// missing, duplicated or unexpected, and, when the same events arrived in
// another order, the first place they differ. At most limit problems are
// listed in full.
func Compare(got, want []Event, limit int) []string {
	var out []string
	add := func(format string, args ...any) {
		if len(out) < limit {
			out = append(out, fmt.Sprintf(format, args...))
		} else if len(out) == limit {
			out = append(out, "... and more")
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq < got[i-1].Seq {
			add("out of order: %s after %s", got[i], got[i-1])
		}
	}
	count := map[Event]int{}
	for _, e := range want {
		count[e]++
	}
	for _, e := range got {
		count[e]--
	}
	for _, e := range want { // in journal order
		if n := count[e]; n > 0 {
			add("missing: %s (%d)", e, n)
			count[e] = 0
		}
	}
	for _, e := range got {
		if n := count[e]; n < 0 {
			if wanted(want, e) {
				add("duplicated: %s (%d more)", e, -n)
			} else {
				add("unexpected: %s", e)
			}
			count[e] = 0
		}
	}
	if len(out) == 0 {
		for i := range got {
			if got[i] != want[i] {
				add("order differs at message %d: got %s, want %s", i, got[i], want[i])
				break
			}
		}
	}
	return out
}

func wanted(want []Event, e Event) bool {
	for _, w := range want {
		if w == e {
			return true
		}
	}
	return false
}
