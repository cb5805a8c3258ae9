package eventstream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
)

const testTimeScale = time.Second

// TestLifeOfAPod: a live subscriber sees a pod's whole life as the CRI
// messages of each transition, each with the pod's and its containers'
// statuses as of that record, and stamped with the record's number.
func TestLifeOfAPod(t *testing.T) {
	e := newEnv(t, journal.Options{})
	e.append(t, rec(t, "old", "", sandboxCreating("old"))) // before the subscription
	sub, err := Subscribe(context.Background(), e.j, e.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if sub.Position() != 1 {
		t.Fatalf("Position at start = %d, want 1", sub.Position())
	}
	last := e.append(t, podLife(t, "sb", "c")...)

	const (
		created = runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT
		started = runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT
		stopped = runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT
		deleted = runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT
		ready   = runtimeapi.PodSandboxState_SANDBOX_READY
		notset  = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	)
	type msg struct {
		id   string
		typ  runtimeapi.ContainerEventType
		pod  runtimeapi.PodSandboxState
		ctrs string // the containers' states
	}
	want := []struct {
		seq  uint64
		msgs []msg
	}{
		{3, []msg{{"sb", created, ready, ""}, {"sb", started, ready, ""}}},
		{5, []msg{{"c", created, ready, "CONTAINER_CREATED"}}},
		{6, []msg{{"c", started, ready, "CONTAINER_RUNNING"}}},
		// 7 is container.oom: no CRI message.
		{8, []msg{{"c", stopped, ready, "CONTAINER_EXITED/OOMKilled"}}},
		{9, []msg{{"sb", stopped, notset, "CONTAINER_EXITED/OOMKilled"}}},
		{10, []msg{{"c", deleted, notset, "CONTAINER_EXITED/OOMKilled"}}},
		{12, []msg{{"sb", deleted, notset, ""}}},
	}
	got := collect(t, sub, len(want))
	for i, w := range want {
		g := got[i]
		if g.Seq != w.seq || len(g.Messages) != len(w.msgs) {
			t.Fatalf("event %d: seq %d with %d messages, want seq %d with %d", i, g.Seq, len(g.Messages), w.seq, len(w.msgs))
		}
		for k, wm := range w.msgs {
			m := g.Messages[k]
			var ctrs string
			for _, cs := range m.GetContainersStatuses() {
				ctrs = cs.GetState().String()
				if cs.GetReason() != "" {
					ctrs += "/" + cs.GetReason()
				}
			}
			if m.GetContainerId() != wm.id || m.GetContainerEventType() != wm.typ ||
				m.GetPodSandboxStatus().GetState() != wm.pod || ctrs != wm.ctrs {
				t.Errorf("seq %d message %d: %s %s pod %s containers %q, want %s %s pod %s containers %q", w.seq, k,
					m.GetContainerId(), m.GetContainerEventType(), m.GetPodSandboxStatus().GetState(), ctrs,
					wm.id, wm.typ, wm.pod, wm.ctrs)
			}
			if m.GetPodSandboxStatus().GetMetadata().GetName() != "sb" || m.GetCreatedAt() != g.Time || g.Time == 0 {
				t.Errorf("seq %d: pod %v created_at %d, want metadata and the record time %d", w.seq, m.GetPodSandboxStatus(), m.GetCreatedAt(), g.Time)
			}
			if seq, ok := SeqOf(m); !ok || seq != w.seq {
				t.Errorf("seq %d message %d carries seq %d (%v)", w.seq, k, seq, ok)
			}
		}
	}
	if sub.Position() != last {
		t.Errorf("Position = %d, want %d", sub.Position(), last)
	}
	// The network teardown (11) yields nothing; it was folded on the way.
	sameEvents(t, got, expected(t, e.all(t))[0:len(want)])
}

// TestSeqSurvivesTheWire: the number travels as a field unknown to the
// CRI's schema; a CRI client decodes the message unchanged, SeqOf finds it.
func TestSeqSurvivesTheWire(t *testing.T) {
	m := &runtimeapi.ContainerEventResponse{ContainerId: "c", CreatedAt: 5, PodSandboxStatus: &runtimeapi.PodSandboxStatus{Id: "sb"}}
	plain := proto.Clone(m).(*runtimeapi.ContainerEventResponse)
	stamp([]*runtimeapi.ContainerEventResponse{m}, 1<<40+7)
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got runtimeapi.ContainerEventResponse
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if seq, ok := SeqOf(&got); !ok || seq != 1<<40+7 {
		t.Fatalf("SeqOf = %d, %v", seq, ok)
	}
	got.ProtoReflect().SetUnknown(nil)
	if !proto.Equal(&got, plain) {
		t.Errorf("the CRI fields changed: %v, want %v", &got, plain)
	}
	if _, ok := SeqOf(plain); ok {
		t.Error("SeqOf found a number in an unstamped message")
	}
}

// TestEqualsAFreshFold: over a long random churn, what a live subscriber
// delivers equals, message for message, the CRI messages of a fresh fold
// of the same records.
func TestEqualsAFreshFold(t *testing.T) {
	e := newEnv(t, journal.Options{})
	sub, err := Subscribe(context.Background(), e.j, e.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	c := newChurn(t, 1)
	for range 500 {
		e.append(t, c.step()...)
	}
	want := expected(t, e.all(t))
	sameEvents(t, collect(t, sub, len(want)), want)
}

// TestStalledSubscriberLosesNothing: one subscriber reads as records come,
// another reads nothing until every append is done (with a tiny ring, so
// it catches up from disk). The appenders finish while it stalls, and it
// then receives every event, in order, the same as the live one.
func TestStalledSubscriberLosesNothing(t *testing.T) {
	e := newEnv(t, journal.Options{RingSize: 16})
	ctx := context.Background()
	live, err := Subscribe(ctx, e.j, e.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	stalled, err := Subscribe(ctx, e.j, e.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()

	// The whole history first, to know how many events to expect.
	c := newChurn(t, 2)
	var batches [][]journal.Record
	for range 1000 {
		batches = append(batches, c.step())
	}
	var wg sync.WaitGroup
	var liveGot []Event
	liveErr := make(chan error, 1)
	wg.Go(func() {
		for {
			ev, err := live.Next(ctx)
			if err != nil {
				liveErr <- err
				return
			}
			liveGot = append(liveGot, ev)
		}
	})
	var total int
	for _, b := range batches {
		total += len(b)
		e.append(t, b...)
	}
	// Appends are done while the stalled subscriber has read nothing: it
	// lags by everything, which Stats shows.
	st := e.j.Stats()
	var maxLag uint64
	for _, pos := range st.Cursors {
		maxLag = max(maxLag, st.Last+1-pos)
	}
	if maxLag != uint64(total) {
		t.Errorf("largest cursor lag %d, want %d (the stalled subscriber's)", maxLag, total)
	}
	want := expected(t, e.all(t))
	sameEvents(t, collect(t, stalled, len(want)), want)

	live.Close()
	wg.Wait()
	if err := <-liveErr; !errors.Is(err, journal.ErrClosed) {
		t.Errorf("live subscriber ended with %v, want ErrClosed", err)
	}
	sameEvents(t, liveGot, want)
}

// TestResume: a subscription resumed after any position delivers exactly
// the events a live subscriber delivered after it, then live ones.
func TestResume(t *testing.T) {
	e := newEnv(t, journal.Options{})
	ctx := context.Background()
	c := newChurn(t, 3)
	for range 200 {
		e.append(t, c.step()...)
	}
	// Snapshots in the middle, as the retention policy leaves them.
	if _, err := e.store.Checkpoint(ctx, e.j); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		e.append(t, c.step()...)
	}
	all := expected(t, e.all(t))
	_, last, _ := e.j.Bounds(ctx)
	for _, after := range []uint64{0, 1, all[0].Seq, all[0].Seq - 1, all[len(all)/2].Seq, last / 2, last - 1, last} {
		sub, err := Resume(ctx, e.j, after, Options{})
		if err != nil {
			t.Fatalf("Resume(%d): %v", after, err)
		}
		if sub.Position() != after {
			t.Errorf("Resume(%d): Position %d", after, sub.Position())
		}
		var want []Event
		for _, ev := range all {
			if ev.Seq > after {
				want = append(want, ev)
			}
		}
		sameEvents(t, collect(t, sub, len(want)), want)
		sub.Close()
	}

	// Resumed at the head, a subscription follows live appends.
	sub, err := Resume(ctx, e.j, last, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	e.append(t, podLife(t, "late", "late-c")...)
	all = expected(t, e.all(t))
	var want []Event
	for _, ev := range all {
		if ev.Seq > last {
			want = append(want, ev)
		}
	}
	sameEvents(t, collect(t, sub, len(want)), want)
}

// TestResumeOutOfRange: a position beyond the journal, or before what it
// retains, is a clear error, not a silent gap.
func TestResumeOutOfRange(t *testing.T) {
	e := newEnv(t, journal.Options{})
	ctx := context.Background()
	last := e.append(t, podLife(t, "sb", "c")...)
	if _, err := Resume(ctx, e.j, last+1, Options{}); !errors.Is(err, journal.ErrOutOfRange) {
		t.Errorf("Resume(last+1) = %v, want ErrOutOfRange", err)
	}
	// Compact everything: the journal keeps no record, and a snapshot at
	// last.
	dropped, err := projector.Compact(ctx, e.j, time.Nanosecond, time.Now().Add(time.Hour))
	if err != nil || dropped != int(last) {
		t.Fatalf("Compact: dropped %d, %v", dropped, err)
	}
	last2 := e.append(t, podLife(t, "sb2", "c2")...)
	for _, after := range []uint64{0, 1, last - 1} {
		_, err := Resume(ctx, e.j, after, Options{})
		if !errors.Is(err, journal.ErrCompacted) {
			t.Errorf("Resume(%d) after compaction = %v, want ErrCompacted", after, err)
		}
	}
	// Right at the snapshot, resuming works: the state comes from it.
	sub, err := Resume(ctx, e.j, last, Options{})
	if err != nil {
		t.Fatalf("Resume at the compaction point: %v", err)
	}
	defer sub.Close()
	got := collect(t, sub, 7)
	if got[0].Seq != last+2 || got[len(got)-1].Seq != last2 {
		t.Errorf("events from %d to %d, want %d to %d", got[0].Seq, got[len(got)-1].Seq, last+2, last2)
	}
}

// TestSteppedOver: a record the fold refuses produces nothing, and the
// subscription continues with the next one, as the live store does.
func TestSteppedOver(t *testing.T) {
	e := newEnv(t, journal.Options{})
	sub, err := Subscribe(context.Background(), e.j, e.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	bad := e.append(t, rec(t, "", "ghost", &events.ContainerStarted{Pid: 1}))
	e.append(t, podLife(t, "sb", "c")[:2]...)
	got := collect(t, sub, 1)
	if got[0].Seq != bad+2 || len(got[0].Messages) != 2 {
		t.Fatalf("first event: seq %d with %d messages, want the sandbox's at %d", got[0].Seq, len(got[0].Messages), bad+2)
	}
	if e.store.Skipped() != 1 {
		t.Errorf("the live store skipped %d records, want 1", e.store.Skipped())
	}
}

// TestNextEnds: Next returns when its context ends (the subscription stays
// usable), when the subscription is closed from another goroutine, and
// when the journal closes.
func TestNextEnds(t *testing.T) {
	e := newEnv(t, journal.Options{})
	sub, err := Subscribe(context.Background(), e.j, e.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with an ending context = %v", err)
	}
	e.append(t, podLife(t, "sb", "c")[:2]...)
	if got := collect(t, sub, 1); got[0].Seq != 2 {
		t.Fatalf("after a cancelled Next: seq %d, want 2", got[0].Seq)
	}

	done := make(chan error, 1)
	go func() {
		_, err := sub.Next(context.Background())
		done <- err
	}()
	waitCursors(t, e.j, 1)
	sub.Close()
	if err := <-done; !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Next after Close = %v, want ErrClosed", err)
	}
	waitCursors(t, e.j, 0)

	// The subscription's own context bounds it.
	sctx, scancel := context.WithCancel(context.Background())
	sub2, err := Subscribe(sctx, e.j, e.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	waitCursors(t, e.j, 1)
	scancel()
	if _, err := sub2.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after the subscription's context ended = %v", err)
	}
	waitCursors(t, e.j, 0)

	sub3, err := Subscribe(context.Background(), e.j, e.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub3.Close()
	go func() {
		_, err := sub3.Next(context.Background())
		done <- err
	}()
	e.j.Close()
	if err := <-done; !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Next when the journal closes = %v, want ErrClosed", err)
	}
}

// waitCursors polls until the journal has n open cursors.
func waitCursors(t *testing.T, j *journal.Journal, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(j.Stats().Cursors) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d cursors open, want %d", len(j.Stats().Cursors), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type countingMetrics struct {
	mu                        sync.Mutex
	subscribed, unsubscribed  int
	delivered, finalDelivered int
	records                   int
	zeroTimes                 int
}

func (m *countingMetrics) Subscribed() { m.mu.Lock(); m.subscribed++; m.mu.Unlock() }
func (m *countingMetrics) Delivered(n int, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered += n
	m.records++
	if at == 0 {
		m.zeroTimes++
	}
}
func (m *countingMetrics) Unsubscribed(n int) {
	m.mu.Lock()
	m.unsubscribed++
	m.finalDelivered = n
	m.mu.Unlock()
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, journal.Options{})
	m := &countingMetrics{}
	sub, err := Subscribe(context.Background(), e.j, e.store, Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	e.append(t, podLife(t, "sb", "c")...)
	collect(t, sub, 7)
	sub.Close()
	sub.Close()
	if m.subscribed != 1 || m.unsubscribed != 1 || m.delivered != 8 || m.finalDelivered != 8 || m.records != 7 || m.zeroTimes != 0 {
		t.Errorf("metrics: %+v, want 1 subscription of 8 messages in 7 records", m)
	}
}

// TestPrivateStatesForgetWithTheStore: after a retention pass, the private
// state of a subscription from a Feed (Subscribe or Resume) forgets the
// tombstones the live store forgot, with the next record it folds; one
// from the package's Resume, attached to nothing, keeps them.
func TestPrivateStatesForgetWithTheStore(t *testing.T) {
	e := newEnv(t, journal.Options{})
	ctx := context.Background()
	feed := Feed{Journal: e.j, Live: e.store}
	e.append(t, podLife(t, "sb-old", "c-old")...)
	live, err := feed.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	resumed, err := feed.Resume(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	alone, err := Resume(ctx, e.j, 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	last := e.append(t, podLife(t, "sb-old2", "c-old2")...)
	subs := map[string]*Subscription{"subscribed": live, "resumed": resumed, "alone": alone}
	for name, sub := range subs {
		for sub.Position() < last {
			if _, err := sub.Next(ctx); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}

	// The retention pass: everything so far is old.
	if _, err := projector.Compact(ctx, e.j, time.Nanosecond, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	first, _, _ := e.j.Bounds(ctx)
	if first != last+1 {
		t.Fatalf("compacted up to %d, want %d (a cursor held it back?)", first, last+1)
	}
	if n := e.store.ForgetRemovedBefore(first); n != 4 {
		t.Fatalf("the store forgot %d tombstones, want 4", n)
	}
	e.append(t, podLife(t, "sb-new", "c-new")...)
	for name, sub := range subs {
		if _, err := sub.Next(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, id := range []string{"sb-old", "c-old", "sb-old2", "c-old2"} {
			if used := sub.state.IDUsed(id); used != (name == "alone") {
				t.Errorf("%s: IDUsed(%s) = %v after the store forgot it", name, id, used)
			}
		}
	}
}
