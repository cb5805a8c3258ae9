package eventstream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
)

// env is a journal whose commits feed a live store, as in the daemon.
type env struct {
	j     *journal.Journal
	store *projector.Store
}

func newEnv(t testing.TB, o journal.Options) *env {
	t.Helper()
	e := &env{store: projector.NewStore(nil, nil)}
	o.OnCommit = e.store.ApplyRecords
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	e.j = j
	return e
}

// rec encodes a payload as a record of the runtime would.
func rec(t testing.TB, sandboxID, containerID string, m proto.Message) journal.Record {
	t.Helper()
	typ, b, err := events.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return journal.Record{Type: string(typ), SandboxID: sandboxID, ContainerID: containerID, Payload: b}
}

func (e *env) append(t testing.TB, recs ...journal.Record) uint64 {
	t.Helper()
	first, err := e.j.Append(context.Background(), recs...)
	if err != nil {
		t.Fatal(err)
	}
	return first + uint64(len(recs)) - 1
}

func sandboxCreating(name string) *events.SandboxCreating {
	return &events.SandboxCreating{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "ns", Uid: "uid-" + name},
		Labels:   map[string]string{"app": name},
	}}
}

func containerCreating(name string) *events.ContainerCreating {
	return &events.ContainerCreating{
		Config:  &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "busybox"}},
		ImageId: "sha256:0123",
	}
}

// podLife is the whole life of a pod with one container: 11 records, 9
// CRI messages (sandbox.ready gives two; the creating records none).
func podLife(t testing.TB, sb, c string) []journal.Record {
	return []journal.Record{
		rec(t, sb, "", sandboxCreating(sb)),
		rec(t, sb, "", &events.SandboxReady{Pid: 10, Network: &events.SandboxNetwork{Ip: "10.0.0.2"}}),
		rec(t, sb, c, containerCreating(c)),
		rec(t, sb, c, &events.ContainerCreated{Pid: 11}),
		rec(t, sb, c, &events.ContainerStarted{Pid: 11}),
		rec(t, sb, c, &events.ContainerOOM{OomKills: 1}),
		rec(t, sb, c, &events.ContainerExited{ExitCode: 137, Reason: "OOMKilled"}),
		rec(t, sb, "", &events.SandboxStopped{}),
		rec(t, sb, c, &events.ContainerRemoved{}),
		rec(t, sb, "", &events.SandboxNetworkTornDown{}),
		rec(t, sb, "", &events.SandboxRemoved{}),
	}
}

// churn writes random but legal pod histories: pods are created, their
// containers created, started, exited (some OOM-killed) and removed, and
// the pods stopped and removed, interleaved across pods.
type churn struct {
	t    testing.TB
	r    *rand.Rand
	next int
	pods []*pod
}

type pod struct {
	id    string
	ready bool
	ctrs  []*ctr
}

type ctr struct {
	id    string
	state projector.ContainerState
}

func newChurn(t testing.TB, seed uint64) *churn {
	return &churn{t: t, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (c *churn) id(prefix string) string {
	c.next++
	return fmt.Sprintf("%s%06d", prefix, c.next)
}

// step returns the records of one random transition.
func (c *churn) step() []journal.Record {
	t := c.t
	if len(c.pods) < 3 || c.r.IntN(10) == 0 {
		p := &pod{id: c.id("sb")}
		c.pods = append(c.pods, p)
		return []journal.Record{rec(t, p.id, "", sandboxCreating(p.id)), rec(t, p.id, "", &events.SandboxReady{Pid: 1})}
	}
	i := c.r.IntN(len(c.pods))
	p := c.pods[i]
	x := c.r.IntN(100)
	if x < 30 && len(p.ctrs) < 4 {
		k := &ctr{id: c.id("c"), state: projector.ContainerCreated}
		p.ctrs = append(p.ctrs, k)
		return []journal.Record{rec(t, p.id, k.id, containerCreating(k.id)), rec(t, p.id, k.id, &events.ContainerCreated{Pid: 2})}
	}
	if x < 90 && len(p.ctrs) > 0 {
		j := c.r.IntN(len(p.ctrs))
		k := p.ctrs[j]
		switch k.state {
		case projector.ContainerCreated:
			k.state = projector.ContainerRunning
			return []journal.Record{rec(t, p.id, k.id, &events.ContainerStarted{Pid: 3})}
		case projector.ContainerRunning:
			k.state = projector.ContainerExited
			if c.r.IntN(4) == 0 {
				return []journal.Record{
					rec(t, p.id, k.id, &events.ContainerOOM{OomKills: 1}),
					rec(t, p.id, k.id, &events.ContainerExited{ExitCode: 137, Reason: "OOMKilled"}),
				}
			}
			return []journal.Record{rec(t, p.id, k.id, &events.ContainerExited{ExitCode: int32(c.r.IntN(3))})}
		default:
			p.ctrs = append(p.ctrs[:j], p.ctrs[j+1:]...)
			return []journal.Record{rec(t, p.id, k.id, &events.ContainerRemoved{})}
		}
	}
	// Stop and remove the whole pod.
	var out []journal.Record
	for _, k := range p.ctrs {
		if k.state != projector.ContainerExited {
			out = append(out, rec(t, p.id, k.id, &events.ContainerExited{ExitCode: 143}))
		}
	}
	out = append(out, rec(t, p.id, "", &events.SandboxStopped{}))
	for _, k := range p.ctrs {
		out = append(out, rec(t, p.id, k.id, &events.ContainerRemoved{}))
	}
	out = append(out, rec(t, p.id, "", &events.SandboxNetworkTornDown{}), rec(t, p.id, "", &events.SandboxRemoved{}))
	c.pods = append(c.pods[:i], c.pods[i+1:]...)
	return out
}

// expected folds records from the empty state and returns the CRI
// messages each yields, stamped: what any subscriber must deliver.
func expected(t testing.TB, recs []journal.Record) []Event {
	t.Helper()
	st := projector.NewState()
	var out []Event
	for _, r := range recs {
		e, err := projector.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Apply(e); err != nil {
			continue // stepped over, as a subscription does
		}
		if msgs := st.CRIEvents(e); len(msgs) > 0 {
			stamp(msgs, r.Seq)
			out = append(out, Event{Seq: r.Seq, Time: r.Time, Messages: msgs})
		}
	}
	return out
}

// all reads the journal's records.
func (e *env) all(t testing.TB) []journal.Record {
	t.Helper()
	var recs []journal.Record
	if err := e.j.Read(context.Background(), 0, 0, func(r journal.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// collect reads n events from s.
func collect(t testing.TB, s *Subscription, n int) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*testTimeScale)
	defer cancel()
	out := make([]Event, 0, n)
	for len(out) < n {
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, ev)
	}
	return out
}

// sameEvents compares two event sequences message for message, the
// sequence numbers stamped in them included.
func sameEvents(t testing.TB, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Time != w.Time || len(g.Messages) != len(w.Messages) {
			t.Fatalf("event %d: seq %d time %d with %d messages, want seq %d time %d with %d", i, g.Seq, g.Time, len(g.Messages), w.Seq, w.Time, len(w.Messages))
		}
		for k := range w.Messages {
			if !proto.Equal(g.Messages[k], w.Messages[k]) {
				t.Fatalf("event %d (seq %d) message %d:\n got %v\nwant %v", i, w.Seq, k, g.Messages[k], w.Messages[k])
			}
		}
	}
}
