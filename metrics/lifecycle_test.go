package metrics

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/projector/eventstream"
)

const sec = int64(time.Second)

func encode(t *testing.T, seq uint64, at int64, sb, c string, m proto.Message) journal.Record {
	t.Helper()
	typ, b, err := events.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return journal.Record{Seq: seq, Time: at, Type: string(typ), SandboxID: sb, ContainerID: c, Payload: b}
}

func sandboxCreating(at int64) *events.SandboxCreating {
	return &events.SandboxCreating{CreatedAt: at, Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"}}}
}

func containerCreating(name string, at int64) *events.ContainerCreating {
	return &events.ContainerCreating{CreatedAt: at, Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: name}}}
}

// TestMeasure: what each record means for the metrics, from the state it
// was folded into.
func TestMeasure(t *testing.T) {
	st := projector.NewState()
	oom := map[string]uint64{}
	var seq uint64
	step := func(at int64, sb, c string, m proto.Message) measurement {
		t.Helper()
		seq++
		e, err := projector.Decode(encode(t, seq, at, sb, c, m))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
		x := measure(st, e, oom)
		if p, ok := m.(*events.ContainerOOM); ok {
			oom[c] = p.GetOomKills()
		}
		return x
	}
	cases := []struct {
		at   int64
		sb   string
		c    string
		m    proto.Message
		want measurement
	}{
		{10 * sec, "sb", "", sandboxCreating(10 * sec), measurement{typ: "sandbox.creating"}},
		{12 * sec, "sb", "", &events.SandboxReady{}, measurement{typ: "sandbox.ready", sandboxStart: 2 * time.Second}},
		{13 * sec, "sb", "c", containerCreating("c", 0), measurement{typ: "container.creating"}}, // created_at: the record's time
		{13 * sec, "sb", "c", &events.ContainerCreated{}, measurement{typ: "container.created"}},
		{13*sec + 5e8, "sb", "c", &events.ContainerStarted{}, measurement{typ: "container.started", containerStart: 500 * time.Millisecond}},
		{14 * sec, "sb", "c", &events.ContainerOOM{OomKills: 3}, measurement{typ: "container.oom", oomKills: 1}},
		{15 * sec, "sb", "c", &events.ContainerOOM{OomKills: 5}, measurement{typ: "container.oom", oomKills: 2}},
		{15 * sec, "sb", "c", &events.ContainerOOM{OomKills: 5}, measurement{typ: "container.oom"}}, // the same kill again
		{16 * sec, "sb", "c", &events.ContainerExited{ExitCode: 137, Reason: "OOMKilled"}, measurement{typ: "container.exited", exitReason: "OOMKilled"}},
		{17 * sec, "sb", "c2", containerCreating("c2", 0), measurement{typ: "container.creating"}},
		{17 * sec, "sb", "c2", &events.ContainerCreated{}, measurement{typ: "container.created"}},
		{18 * sec, "sb", "c2", &events.ContainerExited{ExitCode: 1}, measurement{typ: "container.exited", exitReason: "Error"}},
	}
	for i, tc := range cases {
		if got := step(tc.at, tc.sb, tc.c, tc.m); got != tc.want {
			t.Errorf("record %d (%s): %+v, want %+v", i+1, tc.want.typ, got, tc.want)
		}
	}
}

// TestLifecycleScrape: Follow measures a pod's life from the journal, the
// streams and the stop calls report theirs, and a scrape of the endpoint
// shows it all under Prometheus names.
func TestLifecycleScrape(t *testing.T) {
	reg := NewRegistry()
	m, err := NewLifecycle(reg)
	if err != nil {
		t.Fatal(err)
	}
	store := projector.NewStore(nil, nil)
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), journal.Options{OnCommit: store.ApplyRecords})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := RegisterJournalStats(reg, j); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan error, 1)
	go func() { followed <- m.Follow(ctx, j, store) }()
	defer func() {
		cancel()
		if err := <-followed; err != nil {
			t.Errorf("Follow: %v", err)
		}
	}()
	stream, err := eventstream.Subscribe(context.Background(), j, store, eventstream.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()

	now := time.Now().UnixNano()
	app := func(sb, c string, at int64, msg proto.Message) {
		t.Helper()
		r := encode(t, 0, at, sb, c, msg)
		if _, err := j.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	app("sb", "", now, sandboxCreating(now-3*sec))              // a 3 s start
	app("sb", "", now, &events.SandboxReady{})                  // 2 events
	app("sb", "c", now, containerCreating("c", now-sec))        // a 1 s start
	app("sb", "c", now, &events.ContainerCreated{})             // 1 event
	app("sb", "c", now, &events.ContainerStarted{})             // 1 event
	app("sb", "c", now, &events.ContainerOOM{OomKills: 1})      //
	app("sb", "c", now, &events.ContainerExited{ExitCode: 137}) // 1 event; the reason is filled in below
	for range 4 {
		if _, err := stream.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	m.ObserveRequest("runtime.v1.RuntimeService/StopContainer", "OK", 2*time.Second)
	m.ObserveRequest("runtime.v1.RuntimeService/StopContainer", "NotFound", time.Second)
	m.ObserveRequest("runtime.v1.RuntimeService/StopPodSandbox", "OK", time.Second)
	m.ObserveRequest("runtime.v1.RuntimeService/Version", "OK", time.Second)
	m.ExecOutputCut("stdout")

	// Follow reads on its own goroutine: wait for it to reach the exit.
	deadline := time.Now().Add(10 * time.Second)
	for read(m.transitions.WithLabelValues("container.exited")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("Follow never measured the exit")
		}
		time.Sleep(time.Millisecond)
	}

	srv, err := Serve("127.0.0.1:0", reg, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	fams := scrape(t, "http://"+srv.Addr().String()+Path)

	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		s := series(t, fams, name, labels)
		switch {
		case s.GetCounter() != nil:
			return s.GetCounter().GetValue()
		case s.GetGauge() != nil:
			return s.GetGauge().GetValue()
		}
		t.Fatalf("%s is neither a counter nor a gauge", name)
		return 0
	}
	hist := func(name string) (count uint64, sum float64) {
		t.Helper()
		h := series(t, fams, name, nil).GetHistogram()
		if h == nil {
			t.Fatalf("%s is not a histogram", name)
		}
		return h.GetSampleCount(), h.GetSampleSum()
	}
	for name, want := range map[string]float64{
		"sandbox.ready": 1, "container.started": 1, "container.oom": 1, "container.exited": 1, "image.pulled": 0,
	} {
		if got := value("logbook_lifecycle_transitions_total", map[string]string{"type": name}); got != want {
			t.Errorf("transitions{type=%s} = %v, want %v", name, got, want)
		}
	}
	if n, s := hist("logbook_sandbox_start_duration_seconds"); n != 1 || s < 2.9 || s > 3.1 {
		t.Errorf("sandbox start: %d observations summing %v s, want one of 3 s", n, s)
	}
	if n, s := hist("logbook_container_start_duration_seconds"); n != 1 || s < 0.9 || s > 1.1 {
		t.Errorf("container start: %d observations summing %v s, want one of 1 s", n, s)
	}
	if n, s := hist("logbook_container_stop_duration_seconds"); n != 1 || s != 2 {
		t.Errorf("container stop: %d observations summing %v s, want the one successful 2 s call", n, s)
	}
	if n, _ := hist("logbook_sandbox_stop_duration_seconds"); n != 1 {
		t.Errorf("sandbox stop: %d observations", n)
	}
	if got := value("logbook_container_exits_total", map[string]string{"reason": "Error"}); got != 1 {
		t.Errorf("exits{reason=Error} = %v (exit code 137 without an OOM reason is an Error)", got)
	}
	if got := value("logbook_container_oom_kills_total", nil); got != 1 {
		t.Errorf("oom kills = %v", got)
	}
	if got := value("logbook_exec_sync_output_truncated_total", map[string]string{"stream": "stdout"}); got != 1 {
		t.Errorf("exec cuts = %v", got)
	}
	if got := value("logbook_event_stream_subscribers", nil); got != 1 {
		t.Errorf("event stream subscribers = %v", got)
	}
	if got := value("logbook_event_stream_messages_total", nil); got != 5 {
		t.Errorf("event stream messages = %v, want 5", got)
	}
	if n, _ := hist("logbook_event_stream_delivery_seconds"); n != 4 {
		t.Errorf("delivery latency observations = %d, want one per record with messages (4)", n)
	}
	// The follower and the stream are the journal's two subscribers.
	if got := value("logbook_journal_subscribers", nil); got != 2 {
		t.Errorf("journal subscribers = %v, want 2 (Follow and the stream)", got)
	}
	for name := range fams {
		if strings.HasPrefix(name, "logbook_") && !strings.Contains(name, "_journal_") && fams[name].GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}

	stream.Close()
	if got := read(m.streams); got != 0 {
		t.Errorf("subscribers after Close = %v", got)
	}
}

// TestFollowEnds: Follow returns nil when its context ends and the
// cursor's error when the journal closes under it.
func TestFollowEnds(t *testing.T) {
	m, err := NewLifecycle(NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	store := projector.NewStore(nil, nil)
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), journal.Options{OnCommit: store.ApplyRecords})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Follow(ctx, j, store) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Follow after cancel = %v, want nil", err)
	}
	go func() { done <- m.Follow(context.Background(), j, store) }()
	for len(j.Stats().Cursors) == 0 {
		time.Sleep(time.Millisecond)
	}
	j.Close()
	if err := <-done; !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Follow when the journal closes = %v, want ErrClosed", err)
	}
}

// read is the current value of a counter or gauge.
func read(c prometheus.Metric) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return -1
	}
	if d.GetCounter() != nil {
		return d.GetCounter().GetValue()
	}
	return d.GetGauge().GetValue()
}
