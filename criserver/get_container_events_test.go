package criserver

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/projector/eventstream"
)

// eventsEnv is a journal feeding a live store, served over a real socket
// with pod events on, as logbookd wires them.
type eventsEnv struct {
	j      *journal.Journal
	store  *projector.Store
	client runtimeapi.RuntimeServiceClient
	conn   *grpc.ClientConn
	subs   subscriptions
}

// subscriptions counts the subscriptions the server has open: one from
// Subscribe or Resume until the handler closes it on its way out.
type subscriptions struct{ open atomic.Int64 }

func (s *subscriptions) Subscribed()          { s.open.Add(1) }
func (s *subscriptions) Delivered(int, int64) {}
func (s *subscriptions) Unsubscribed(int)     { s.open.Add(-1) }

func newEventsEnv(t *testing.T, enabled bool, shutdown context.Context) *eventsEnv {
	t.Helper()
	e := &eventsEnv{store: projector.NewStore(nil, nil)}
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), journal.Options{OnCommit: e.store.ApplyRecords, RingSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	e.j = j
	cfg := testConfig(t)
	cfg.EnablePodEvents = enabled
	feed := eventstream.Feed{Journal: j, Live: e.store, Options: eventstream.Options{Metrics: &e.subs}}
	c, conn := serveWith(t, Deps{Config: cfg, Projection: e.store, Events: feed},
		discard(), nil, shutdown, nil)
	t.Cleanup(func() { j.Close() }) // after the server stopped (cleanups run last first)
	e.client, e.conn = c.runtime, conn
	return e
}

func (e *eventsEnv) append(t *testing.T, sandboxID, containerID string, m proto.Message) uint64 {
	t.Helper()
	typ, b, err := events.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := e.j.Append(context.Background(), journal.Record{Type: string(typ), SandboxID: sandboxID, ContainerID: containerID, Payload: b})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// pod journals a pod's life up to a running container: 5 records, 4 events.
func (e *eventsEnv) pod(t *testing.T, id string) {
	t.Helper()
	e.append(t, id, "", &events.SandboxCreating{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: id, Namespace: "ns", Uid: id}}})
	e.append(t, id, "", &events.SandboxReady{Pid: 1})
	c := id + "-c"
	e.append(t, id, c, &events.ContainerCreating{Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "c"}}})
	e.append(t, id, c, &events.ContainerCreated{Pid: 2})
	e.append(t, id, c, &events.ContainerStarted{Pid: 2})
}

// open starts GetContainerEvents, with a resume position unless after is
// nil, and returns the stream and the position the daemon announced.
func (e *eventsEnv) open(t *testing.T, ctx context.Context, after *uint64) (grpc.ServerStreamingClient[runtimeapi.ContainerEventResponse], uint64) {
	t.Helper()
	if after != nil {
		ctx = metadata.AppendToOutgoingContext(ctx, LastSeqHeader, strconv.FormatUint(*after, 10))
	}
	stream, err := e.client.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := stream.Header()
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	v := md.Get(LastSeqHeader)
	if len(v) != 1 {
		t.Fatalf("header %s = %q", LastSeqHeader, v)
	}
	pos, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return stream, pos
}

type received struct {
	seq uint64
	id  string
	typ runtimeapi.ContainerEventType
}

func recvN(t *testing.T, stream grpc.ServerStreamingClient[runtimeapi.ContainerEventResponse], n int) []received {
	t.Helper()
	got, err := recv(stream, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// recv reads n events; it may run on any goroutine.
func recv(stream grpc.ServerStreamingClient[runtimeapi.ContainerEventResponse], n int) ([]received, error) {
	var out []received
	for len(out) < n {
		m, err := stream.Recv()
		if err != nil {
			return out, fmt.Errorf("after %d of %d events: %w", len(out), n, err)
		}
		seq, ok := eventstream.SeqOf(m)
		if !ok {
			return out, fmt.Errorf("event %v carries no sequence number", m)
		}
		if m.GetPodSandboxStatus() == nil || m.GetCreatedAt() == 0 {
			return out, fmt.Errorf("event without its pod status or time: %v", m)
		}
		out = append(out, received{seq, m.GetContainerId(), m.GetContainerEventType()})
	}
	return out, nil
}

func TestGetContainerEventsDisabled(t *testing.T) {
	e := newEventsEnv(t, false, nil)
	stream, err := e.client.GetContainerEvents(context.Background(), &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	assertCode(t, err, codes.FailedPrecondition, `"enable-pod-events": true`)
	if n := len(e.j.Stats().Cursors); n != 0 {
		t.Errorf("%d cursors open after a refused call", n)
	}
}

// TestGetContainerEventsLiveAndResume: a client follows events live, goes
// away, misses some, comes back with the last number it saw and receives
// exactly what it missed, then live events again.
func TestGetContainerEventsLiveAndResume(t *testing.T) {
	e := newEventsEnv(t, true, nil)
	e.pod(t, "before") // not for a live client
	ctx, cancel := context.WithCancel(context.Background())
	stream, pos := e.open(t, ctx, nil)
	if pos != 5 {
		t.Fatalf("the stream starts after %d, want 5 (the head)", pos)
	}
	e.pod(t, "a")
	got := recvN(t, stream, 4)
	want := []received{
		{7, "a", runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT},
		{7, "a", runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT},
		{9, "a-c", runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT},
		{10, "a-c", runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT},
	}
	if !equalReceived(got, want) {
		t.Fatalf("live events %v, want %v", got, want)
	}
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("after cancel: %v", err)
	}

	// While the client is away.
	e.append(t, "a", "a-c", &events.ContainerExited{ExitCode: 137, Reason: "OOMKilled"})
	e.pod(t, "b")

	last := got[len(got)-1].seq
	stream, pos = e.open(t, context.Background(), &last)
	if pos != last {
		t.Errorf("resumed stream starts after %d, want %d", pos, last)
	}
	got = recvN(t, stream, 5)
	want = []received{
		{11, "a-c", runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT},
		{13, "b", runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT},
		{13, "b", runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT},
		{15, "b-c", runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT},
		{16, "b-c", runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT},
	}
	if !equalReceived(got, want) {
		t.Fatalf("resumed events %v, want %v", got, want)
	}
	e.append(t, "b", "b-c", &events.ContainerExited{})
	if got := recvN(t, stream, 1); got[0] != (received{17, "b-c", runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT}) {
		t.Errorf("live event after the replay: %v", got[0])
	}

	// The daemon's position at subscription is a valid resume point too:
	// a client that got no event resumes after it and misses nothing.
	zero := uint64(0)
	stream, _ = e.open(t, context.Background(), &zero)
	if got := recvN(t, stream, 1); got[0].seq != 2 || got[0].id != "before" {
		t.Errorf("resume after 0 replays from the start; first event %v", got[0])
	}
}

func equalReceived(a, b []received) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGetContainerEventsResumeErrors(t *testing.T) {
	e := newEventsEnv(t, true, nil)
	e.pod(t, "a")
	recvErr := func(md ...string) error {
		ctx := metadata.AppendToOutgoingContext(context.Background(), md...)
		stream, err := e.client.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		return err
	}
	assertCode(t, recvErr(LastSeqHeader, "x12"), codes.InvalidArgument, LastSeqHeader)
	assertCode(t, recvErr(LastSeqHeader, "1", LastSeqHeader, "2"), codes.InvalidArgument, LastSeqHeader)
	assertCode(t, recvErr(LastSeqHeader, "99"), codes.OutOfRange, "last record is 5")
	if _, err := projector.Compact(context.Background(), e.j, time.Nanosecond, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	assertCode(t, recvErr(LastSeqHeader, "2"), codes.OutOfRange, "compacted")
	if n := len(e.j.Stats().Cursors); n != 0 {
		t.Errorf("%d cursors open after refused calls", n)
	}
}

// TestGetContainerEventsStalledClient: a client that stops reading holds
// up neither the appenders nor another client, and later receives every
// event in order.
func TestGetContainerEventsStalledClient(t *testing.T) {
	e := newEventsEnv(t, true, nil)
	stalled, _ := e.open(t, context.Background(), nil)
	reader, _ := e.open(t, context.Background(), nil)
	const pods = 400 // 2,000 records, 1,600 events: past the ring and gRPC's flow-control windows
	type result struct {
		got []received
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := recv(reader, pods*4)
		done <- result{got, err}
	}()
	for i := range pods {
		e.pod(t, "p"+strconv.Itoa(i))
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := r.got
	if got[len(got)-1].seq != pods*5 {
		t.Fatalf("the reading client's last event is %v, want seq %d", got[len(got)-1], pods*5)
	}
	// The stalled client has everything coming, in order.
	late := recvN(t, stalled, pods*4)
	if !equalReceived(late, got) {
		t.Fatal("the stalled client received other events than the reading one")
	}
}

// TestGetContainerEventsNoLeak: many clients connect and go away (some
// before any event, some after, some mid-burst); every server goroutine
// and journal cursor of theirs ends.
func TestGetContainerEventsNoLeak(t *testing.T) {
	e := newEventsEnv(t, true, nil)
	e.pod(t, "warm")
	// A stream opened and closed first, so that gRPC's lazily started
	// goroutines are part of the baseline.
	ctx, cancel := context.WithCancel(context.Background())
	e.open(t, ctx, nil)
	cancel()
	waitFor(t, "no cursor", func() bool { return len(e.j.Stats().Cursors) == 0 })
	base := runtime.NumGoroutine()

	const clients = 60
	cancels := make([]context.CancelFunc, clients)
	streams := make([]grpc.ServerStreamingClient[runtimeapi.ContainerEventResponse], clients)
	for i := range clients {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		streams[i], _ = e.open(t, ctx, nil)
		if i%3 == 0 {
			cancel() // gone before any event
		}
	}
	waitFor(t, "the streams' cursors", func() bool { return len(e.j.Stats().Cursors) == clients-clients/3 })
	e.pod(t, "burst1")
	for i := range clients {
		if i%3 == 1 {
			recvN(t, streams[i], 4)
			cancels[i]() // gone after reading
		}
	}
	e.pod(t, "burst2")
	for i := range clients {
		cancels[i]() // the rest, mid-burst, unread
	}
	waitFor(t, "every cursor closed", func() bool { return len(e.j.Stats().Cursors) == 0 })
	waitFor(t, "goroutines back to "+strconv.Itoa(base), func() bool { return runtime.NumGoroutine() <= base })
}

// TestGetContainerEventsShutdown: when the daemon shuts down, an open
// stream ends with Unavailable (come back to the next daemon), and so does
// one whose journal closes under it.
func TestGetContainerEventsShutdown(t *testing.T) {
	shutdown, begin := context.WithCancel(context.Background())
	defer begin()
	e := newEventsEnv(t, true, shutdown)
	stream, _ := e.open(t, context.Background(), nil)
	begin()
	_, err := stream.Recv()
	assertCode(t, err, codes.Unavailable, "shutting down")

	e2 := newEventsEnv(t, true, nil)
	stream, _ = e2.open(t, context.Background(), nil)
	e2.j.Close()
	_, err = stream.Recv()
	if status.Code(err) != codes.Unavailable {
		t.Errorf("stream when the journal closes: %v, want Unavailable", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestGetContainerEventsStalledClientAtShutdown: a client that stopped
// reading with its flow-control window full (the server's Send is
// blocked) does not hold up the shutdown: its stream ends, and its
// subscription is closed, as soon as shutdown begins.
func TestGetContainerEventsStalledClientAtShutdown(t *testing.T) {
	shutdown, begin := context.WithCancel(context.Background())
	defer begin()
	e := newEventsEnv(t, true, shutdown)
	e.open(t, context.Background(), nil) // never read
	reader, _ := e.open(t, context.Background(), nil)
	const pods = 400
	type result struct {
		got []received
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := recv(reader, pods*4)
		done <- result{got, err}
	}()
	for i := range pods {
		e.pod(t, "p"+strconv.Itoa(i))
	}
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	// The stalled stream's server side is now blocked in Send, far
	// behind: its cursor lags.
	st := e.j.Stats()
	if len(st.Cursors) != 2 || min(st.Cursors[0], st.Cursors[1]) > st.Last {
		t.Fatalf("cursors %v at %d: the stalled stream is not behind", st.Cursors, st.Last)
	}
	begin()
	waitFor(t, "every handler returned at shutdown", func() bool { return e.subs.open.Load() == 0 })
}
