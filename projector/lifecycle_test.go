package projector

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/logbook-cri/logbook/journal/events"
)

// The legal transitions, written out again independently of lifecycle.go:
// "From event" -> To. TestTablesAreAsDrawn fails if the source tables and
// these drift apart; the illegal-pair tests derive their pairs from these.
var (
	wantSandboxRows = map[string]string{
		"Absent sandbox.creating":            "Creating",
		"Creating sandbox.ready":             "Ready",
		"Creating sandbox.removed":           "Removed",
		"Ready sandbox.stopped":              "NotReady",
		"Ready sandbox.resources_updated":    "Ready",
		"NotReady sandbox.network_torn_down": "NotReady",
		"NotReady sandbox.removed":           "Removed",
	}
	wantContainerRows = map[string]string{
		"Absent container.creating":           "Creating",
		"Creating container.created":          "Created",
		"Creating container.removed":          "Removed",
		"Created container.started":           "Running",
		"Created container.exited":            "Exited",
		"Created container.removed":           "Removed",
		"Created container.resources_updated": "Created",
		"Running container.exited":            "Exited",
		"Running container.resources_updated": "Running",
		"Exited container.removed":            "Removed",
		"Created container.oom":               "Created",
		"Running container.oom":               "Running",
		"Exited container.oom":                "Exited",
	}
	wantImageRows = map[string]string{
		"Absent image.pulled":    "Present",
		"Present image.pulled":   "Present",
		"Present image.tagged":   "Present",
		"Present image.untagged": "Present",
		"Present image.removed":  "Absent",
	}
)

func rowsOf[S interface {
	~uint8
	String() string
}](table []row[S]) map[string]string {
	m := make(map[string]string)
	for _, r := range table {
		k := r.from.String() + " " + string(r.on)
		if _, dup := m[k]; dup {
			m[k] = "DUPLICATE ROW"
			continue
		}
		m[k] = r.to.String()
	}
	return m
}

func TestTablesAreAsDrawn(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want map[string]string
	}{
		{"sandbox", rowsOf(sandboxTable), wantSandboxRows},
		{"container", rowsOf(containerTable), wantContainerRows},
		{"image", rowsOf(imageTable), wantImageRows},
	} {
		if d := protoDiff(tc.want, tc.got); d != "" {
			t.Errorf("%s table differs from the drawn one (-want +got):\n%s", tc.name, d)
		}
	}
}

// typesOf lists the event types of one aggregate.
func typesOf(agg string) []events.Type {
	var ts []events.Type
	for _, t := range events.Types() {
		if aggregate(t) == agg {
			ts = append(ts, t)
		}
	}
	return ts
}

// samplePayload is a well-formed payload of each type for object id (so
// that a refusal is about the transition, never the envelope).
func samplePayload(t events.Type, id string) proto.Message {
	switch t {
	case events.SandboxCreatingType:
		return sandboxCreating(id)
	case events.SandboxReadyType:
		return sandboxReady(id)
	case events.SandboxStoppedType:
		return &events.SandboxStopped{StoppedAt: 7}
	case events.SandboxNetworkTornDownType:
		return &events.SandboxNetworkTornDown{}
	case events.SandboxRemovedType:
		return &events.SandboxRemoved{}
	case events.SandboxResourcesUpdatedType:
		return &events.SandboxResourcesUpdated{}
	case events.ContainerCreatingType:
		return containerCreating(id)
	case events.ContainerCreatedType:
		return &events.ContainerCreated{Pid: 1}
	case events.ContainerStartedType:
		return &events.ContainerStarted{Pid: 1}
	case events.ContainerExitedType:
		return &events.ContainerExited{ExitCode: 1}
	case events.ContainerRemovedType:
		return &events.ContainerRemoved{}
	case events.ContainerResourcesUpdatedType:
		return &events.ContainerResourcesUpdated{}
	case events.ContainerOOMType:
		return &events.ContainerOOM{OomKills: 1}
	case events.ImagePulledType:
		return imagePulled(id)
	case events.ImageTaggedType:
		return &events.ImageTagged{ImageId: id, Name: "docker.io/library/new:1"}
	case events.ImageUntaggedType:
		return &events.ImageUntagged{ImageId: id, Name: "docker.io/library/img:1"}
	case events.ImageRemovedType:
		return &events.ImageRemoved{ImageId: id}
	}
	panic("no sample for " + t)
}

// assertRefused applies m and checks that it is refused with a
// *TransitionError naming (object, id, from, type), and that the state did
// not change at all.
func assertRefused(t *testing.T, f *fixture, sid, cid string, m proto.Message, object, id, from string, guard bool) {
	t.Helper()
	before, err := f.s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	seq := f.s.Seq()
	typ, _ := events.TypeOf(m)
	err = f.apply(sid, cid, m)
	var te *TransitionError
	if !errors.As(err, &te) || !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("%s %s in %s: %s gave %v, want a *TransitionError", object, id, from, typ, err)
	}
	if te.Object != object || te.ID != id || te.From != from || te.Event != typ {
		t.Fatalf("TransitionError = %+v, want object %s id %s from %s event %s", te, object, id, from, typ)
	}
	if guard != (te.Reason != "") {
		t.Fatalf("TransitionError reason %q: a guard refusal has a reason, a missing row has none", te.Reason)
	}
	after, err := f.s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) || f.s.Seq() != seq {
		t.Fatalf("a refused %s changed the state", typ)
	}
}

func TestEveryIllegalSandboxPair(t *testing.T) {
	states := []SandboxState{SandboxAbsent, SandboxCreating, SandboxReady, SandboxNotReady, SandboxRemoved}
	n := 0
	for _, st := range states {
		for _, typ := range typesOf("sandbox") {
			if _, legal := wantSandboxRows[st.String()+" "+string(typ)]; legal {
				continue
			}
			n++
			t.Run(fmt.Sprintf("%s/%s", st, typ), func(t *testing.T) {
				f := newFixture(t)
				f.sandboxIn("sb", st)
				assertRefused(t, f, "sb", "", samplePayload(typ, "sb"), "sandbox", "sb", st.String(), false)
			})
		}
	}
	if want := len(states)*len(typesOf("sandbox")) - len(wantSandboxRows); n != want || n == 0 {
		t.Fatalf("tried %d illegal pairs, want %d", n, want)
	}
}

func TestEveryIllegalContainerPair(t *testing.T) {
	states := []ContainerState{ContainerAbsent, ContainerCreating, ContainerCreated, ContainerRunning, ContainerExited, ContainerRemoved}
	n := 0
	for _, st := range states {
		for _, typ := range typesOf("container") {
			if _, legal := wantContainerRows[st.String()+" "+string(typ)]; legal {
				continue
			}
			n++
			t.Run(fmt.Sprintf("%s/%s", st, typ), func(t *testing.T) {
				f := newFixture(t)
				f.containerIn("sb", "c", st)
				assertRefused(t, f, "sb", "c", samplePayload(typ, "c"), "container", "c", st.String(), false)
			})
		}
	}
	if want := len(states)*len(typesOf("container")) - len(wantContainerRows); n != want || n == 0 {
		t.Fatalf("tried %d illegal pairs, want %d", n, want)
	}
}

func TestEveryIllegalImagePair(t *testing.T) {
	id := imageID(1)
	n := 0
	for _, st := range []ImageState{ImageAbsent, ImagePresent} {
		for _, typ := range typesOf("image") {
			if _, legal := wantImageRows[st.String()+" "+string(typ)]; legal {
				continue
			}
			n++
			t.Run(fmt.Sprintf("%s/%s", st, typ), func(t *testing.T) {
				f := newFixture(t)
				if st == ImagePresent {
					f.must("", "", imagePulled(id))
				}
				assertRefused(t, f, "", "", samplePayload(typ, id), "image", id, st.String(), false)
			})
		}
	}
	if n != 3 {
		t.Fatalf("tried %d illegal image pairs, want 3", n)
	}
}

// Every legal row, taken from a state reached by legal events, lands in
// the row's target state (or removes the object).
func TestEveryLegalPairLands(t *testing.T) {
	for _, st := range []SandboxState{SandboxAbsent, SandboxCreating, SandboxReady, SandboxNotReady} {
		for _, typ := range typesOf("sandbox") {
			to, legal := wantSandboxRows[st.String()+" "+string(typ)]
			if !legal {
				continue
			}
			f := newFixture(t)
			f.sandboxIn("sb", st)
			f.must("sb", "", samplePayload(typ, "sb"))
			got := SandboxRemoved.String()
			if sb, ok := f.s.sandboxes["sb"]; ok {
				got = sb.State.String()
				if sb.LastSeq != f.s.Seq() {
					t.Errorf("%s %s: LastSeq %d, want %d", st, typ, sb.LastSeq, f.s.Seq())
				}
			}
			if got != to {
				t.Errorf("sandbox %s --%s--> %s, want %s", st, typ, got, to)
			}
		}
	}
	for _, st := range []ContainerState{ContainerAbsent, ContainerCreating, ContainerCreated, ContainerRunning, ContainerExited} {
		for _, typ := range typesOf("container") {
			to, legal := wantContainerRows[st.String()+" "+string(typ)]
			if !legal {
				continue
			}
			f := newFixture(t)
			f.containerIn("sb", "c", st)
			before := f.s.containers["c"]
			f.must("sb", "c", samplePayload(typ, "c"))
			got := ContainerRemoved.String()
			if c, ok := f.s.containers["c"]; ok {
				got = c.State.String()
				switch {
				case typ == events.ContainerOOMType:
					// A record of a kill, not a change: the very same object.
					if c != before {
						t.Errorf("%s %s changed the container: %+v, was %+v", st, typ, c, before)
					}
				case c.LastSeq != f.s.Seq():
					t.Errorf("%s %s: LastSeq %d, want %d", st, typ, c.LastSeq, f.s.Seq())
				}
			}
			if got != to {
				t.Errorf("container %s --%s--> %s, want %s", st, typ, got, to)
			}
		}
	}
}
