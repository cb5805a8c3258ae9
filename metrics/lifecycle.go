package metrics

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/projector/eventstream"
)

// Lifecycle holds the lifecycle metrics. Most are computed from the
// journal itself by Follow, a subscriber of its own that folds every
// record into a private projection: transitions by type, start latencies,
// exits by reason, OOM kills. Those are facts of the journal, so they
// count what happened whoever made it happen (a CRI call, the exit
// monitor, recovery). The rest are fed as things happen: the event
// streams (as eventstream.Metrics), the stop calls (as a RequestObserver:
// the journal records no stop intent, so a stop's length is known only to
// the call) and the ExecSync output cuts.
type Lifecycle struct {
	transitions    *prometheus.CounterVec
	sandboxStart   prometheus.Histogram
	containerStart prometheus.Histogram
	sandboxStop    prometheus.Histogram
	containerStop  prometheus.Histogram
	exits          *prometheus.CounterVec
	oomKills       prometheus.Counter
	execCuts       *prometheus.CounterVec

	streams         prometheus.Gauge
	streamMessages  prometheus.Counter
	streamDelivery  prometheus.Histogram
	streamPerClient prometheus.Histogram

	now func() time.Time
}

// lifecycleBuckets span a fast local start (tens of ms) to a stop that
// waits out a long grace period (minutes).
var lifecycleBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// NewLifecycle creates the lifecycle collectors and registers them on reg.
func NewLifecycle(reg prometheus.Registerer) (*Lifecycle, error) {
	m := &Lifecycle{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "lifecycle", Name: "transitions_total",
			Help: "Lifecycle events journaled since the daemon started, by event type (sandbox.ready, container.exited, ...).",
		}, []string{"type"}),
		sandboxStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "sandbox", Name: "start_duration_seconds",
			Help:    "Time from a pod sandbox's creation (sandbox.creating) to its readiness (sandbox.ready).",
			Buckets: lifecycleBuckets,
		}),
		containerStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "container", Name: "start_duration_seconds",
			Help:    "Time from a container's creation (container.creating) to its start (container.started).",
			Buckets: lifecycleBuckets,
		}),
		sandboxStop: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "sandbox", Name: "stop_duration_seconds",
			Help:    "Duration of successful StopPodSandbox calls (containers stopped, infra killed, network torn down).",
			Buckets: lifecycleBuckets,
		}),
		containerStop: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "container", Name: "stop_duration_seconds",
			Help:    "Duration of successful StopContainer calls (the grace period included).",
			Buckets: lifecycleBuckets,
		}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "container", Name: "exits_total",
			Help: "Container exits journaled, by reason (Completed, Error, OOMKilled, StartError, ...).",
		}, []string{"reason"}),
		oomKills: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "container", Name: "oom_kills_total",
			Help: "Processes the kernel's OOM killer ended in containers, as the OOM watchers journaled them (container.oom).",
		}),
		execCuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "exec_sync", Name: "output_truncated_total",
			Help: "ExecSync outputs cut to fit the kubelet's 16 MiB response limit (both streams share it), by stream (stdout, stderr).",
		}, []string{"stream"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "event_stream", Name: "subscribers",
			Help: "Open GetContainerEvents streams.",
		}),
		streamMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "event_stream", Name: "messages_total",
			Help: "CRI event messages handed to GetContainerEvents streams, summed over all streams.",
		}),
		streamDelivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "event_stream", Name: "delivery_seconds",
			Help: "Time from a record's append to its messages being handed to a stream (a stalled stream's catch-up shows here).",
			// 100µs to ~1.6 s, then a bucket per decade for catch-ups.
			Buckets: append(prometheus.ExponentialBuckets(0.0001, 2, 15), 10, 100, 1000),
		}),
		streamPerClient: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "event_stream", Name: "messages_per_subscriber",
			Help:    "Messages each GetContainerEvents stream delivered in its life, observed when it ends.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 12),
		}),
		now: time.Now,
	}
	for _, t := range events.Types() {
		m.transitions.WithLabelValues(string(t))
	}
	for _, r := range []string{"Completed", "Error", "OOMKilled"} {
		m.exits.WithLabelValues(r)
	}
	for _, s := range []string{"stdout", "stderr"} {
		m.execCuts.WithLabelValues(s)
	}
	for _, c := range []prometheus.Collector{m.transitions, m.sandboxStart, m.containerStart, m.sandboxStop, m.containerStop,
		m.exits, m.oomKills, m.execCuts, m.streams, m.streamMessages, m.streamDelivery, m.streamPerClient} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// measurement is what one journal record means for the metrics.
type measurement struct {
	typ string
	// start: a start latency, of a sandbox or a container.
	sandboxStart, containerStart time.Duration
	exitReason                   string // set for container.exited
	oomKills                     uint64 // new kills of container.oom
}

// measure computes a record's measurement from the state it was folded
// into (after) and the OOM counts seen so far per container (a
// container.oom carries the cgroup's cumulative count; the first one of a
// container counts as one kill, since kills before the watcher were not
// news). Pure, so table-tested.
func measure(after *projector.State, e projector.Event, oomSeen map[string]uint64) measurement {
	m := measurement{typ: string(e.Type)}
	switch p := e.Payload.(type) {
	case *events.SandboxReady:
		if sb, ok := after.Sandbox(e.SandboxID); ok {
			m.sandboxStart = time.Duration(max(e.Time-sb.CreatedAt, 0))
		}
	case *events.ContainerStarted:
		if c, ok := after.Container(e.ContainerID); ok {
			m.containerStart = time.Duration(max(e.Time-c.CreatedAt, 0))
		}
	case *events.ContainerExited:
		if c, ok := after.Container(e.ContainerID); ok {
			m.exitReason = c.CRIReason()
		}
	case *events.ContainerOOM:
		seen, ok := oomSeen[e.ContainerID]
		switch {
		case !ok:
			m.oomKills = 1
		case p.GetOomKills() > seen:
			m.oomKills = p.GetOomKills() - seen
		}
	}
	return m
}

func (m *Lifecycle) record(x measurement) {
	m.transitions.WithLabelValues(x.typ).Inc()
	if x.sandboxStart > 0 {
		m.sandboxStart.Observe(x.sandboxStart.Seconds())
	}
	if x.containerStart > 0 {
		m.containerStart.Observe(x.containerStart.Seconds())
	}
	if x.exitReason != "" {
		m.exits.WithLabelValues(x.exitReason).Inc()
	}
	if x.oomKills > 0 {
		m.oomKills.Add(float64(x.oomKills))
	}
}

// LifecycleJournal is what Follow reads: *journal.Journal implements it.
type LifecycleJournal interface {
	Tail(ctx context.Context, from uint64) (journal.Cursor, error)
}

// LiveState is the projection Follow starts from: *projector.Store.
type LiveState interface {
	Snapshot() *projector.State
}

// Follow computes the journal's lifecycle metrics until ctx ends: it takes
// a private copy of the live state, tails the journal from there (a cursor
// of its own: it shows in logbook_journal_subscribers) and measures every
// record as it folds it. It returns nil when ctx ends, or the error that
// ended its cursor (the journal closed). It runs on the caller's
// goroutine: the caller owns it.
func (m *Lifecycle) Follow(ctx context.Context, j LifecycleJournal, live LiveState) error {
	st := live.Snapshot()
	cur, err := j.Tail(ctx, st.Seq()+1)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer cur.Close()
	batch, _ := cur.(journal.BatchCursor)
	oomSeen := map[string]uint64{}
	for {
		var recs []journal.Record
		if batch != nil {
			recs, err = batch.NextBatch(ctx, 256)
		} else {
			var r journal.Record
			if r, err = cur.Next(ctx); err == nil {
				recs = []journal.Record{r}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, r := range recs {
			e, err := projector.Decode(r)
			if err == nil {
				err = st.Apply(e)
			}
			if err != nil {
				continue // stepped over, as the live store does (and logs)
			}
			x := measure(st, e, oomSeen)
			switch p := e.Payload.(type) {
			case *events.ContainerOOM:
				oomSeen[e.ContainerID] = max(oomSeen[e.ContainerID], p.GetOomKills())
			case *events.ContainerRemoved:
				delete(oomSeen, e.ContainerID)
			}
			m.record(x)
		}
	}
}

var _ eventstream.Metrics = (*Lifecycle)(nil)

// Subscribed, Delivered and Unsubscribed make Lifecycle the
// eventstream.Metrics of the GetContainerEvents streams.
func (m *Lifecycle) Subscribed() { m.streams.Inc() }

// Delivered records the messages of one record handed to a stream.
func (m *Lifecycle) Delivered(messages int, recordTime int64) {
	m.streamMessages.Add(float64(messages))
	m.streamDelivery.Observe(max(m.now().Sub(time.Unix(0, recordTime)), 0).Seconds())
}

// Unsubscribed records the end of a stream that delivered messages.
func (m *Lifecycle) Unsubscribed(messages int) {
	m.streams.Dec()
	m.streamPerClient.Observe(float64(messages))
}

// stopMethods are the calls whose duration is a stop latency.
var stopMethods = []string{"runtime.v1.RuntimeService/StopContainer", "runtime.v1.RuntimeService/StopPodSandbox"}

// ObserveRequest records the successful stop calls' durations (see
// criserver.RequestObserver; combine it with CRI's with RequestObservers).
func (m *Lifecycle) ObserveRequest(method, code string, took time.Duration) {
	if code != "OK" {
		return
	}
	switch slices.Index(stopMethods, method) {
	case 0:
		m.containerStop.Observe(took.Seconds())
	case 1:
		m.sandboxStop.Observe(took.Seconds())
	}
}

// ExecOutputCut counts one ExecSync output cut at the cap; stream is
// "stdout" or "stderr". The exec path calls it (see ExecOutputCuts).
func (m *Lifecycle) ExecOutputCut(stream string) {
	m.execCuts.WithLabelValues(stream).Inc()
}

// ExecOutputCuts is what the ExecSync path needs to report a cut output:
// *Lifecycle implements it.
type ExecOutputCuts interface {
	ExecOutputCut(stream string)
}

var _ ExecOutputCuts = (*Lifecycle)(nil)

// RequestObserver is criserver's: one observation per finished call.
type RequestObserver interface {
	ObserveRequest(method, code string, took time.Duration)
}

// RequestObservers hands each observation to every observer in turn, so
// one interceptor feeds the CRI request metrics and the stop latencies.
type RequestObservers []RequestObserver

// ObserveRequest: see RequestObserver.
func (os RequestObservers) ObserveRequest(method, code string, took time.Duration) {
	for _, o := range os {
		o.ObserveRequest(method, code, took)
	}
}
