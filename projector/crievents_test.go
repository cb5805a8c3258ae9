package projector

import (
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

func TestCRIEvents(t *testing.T) {
	const (
		created = runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT
		started = runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT
		stopped = runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT
		deleted = runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT
	)
	type want struct {
		id    string
		types []runtimeapi.ContainerEventType
		// Expected statuses in the messages: the pod's state and the
		// containers' (id, state) in order.
		pod  runtimeapi.PodSandboxState
		ctrs []string
	}
	f := newFixture(t)
	steps := []struct {
		sid, cid string
		m        proto.Message
		want     *want
	}{
		{"sb", "", sandboxCreating("sb"), nil},
		{"sb", "", sandboxReady("sb"), &want{"sb", []runtimeapi.ContainerEventType{created, started}, runtimeapi.PodSandboxState_SANDBOX_READY, nil}},
		{"sb", "", &events.SandboxResourcesUpdated{}, nil},
		{"sb", "c1", containerCreating("c1"), nil},
		{"", "c1", &events.ContainerCreated{}, &want{"c1", []runtimeapi.ContainerEventType{created}, runtimeapi.PodSandboxState_SANDBOX_READY, []string{"c1 CONTAINER_CREATED"}}},
		{"sb", "c2", containerCreating("c2"), nil},
		{"", "c2", &events.ContainerCreated{}, &want{"c2", []runtimeapi.ContainerEventType{created}, runtimeapi.PodSandboxState_SANDBOX_READY, []string{"c1 CONTAINER_CREATED", "c2 CONTAINER_CREATED"}}},
		{"", "c1", &events.ContainerStarted{}, &want{"c1", []runtimeapi.ContainerEventType{started}, runtimeapi.PodSandboxState_SANDBOX_READY, []string{"c1 CONTAINER_RUNNING", "c2 CONTAINER_CREATED"}}},
		{"", "c1", &events.ContainerResourcesUpdated{}, nil},
		{"", "c1", &events.ContainerOOM{OomKills: 1}, nil}, // a kill, no CRI event
		{"sb", "c3", containerCreating("c3"), nil},
		{"", "c3", &events.ContainerRemoved{Reason: "rolled back"}, nil}, // never visible
		{"", "c1", &events.ContainerExited{ExitCode: 2}, &want{"c1", []runtimeapi.ContainerEventType{stopped}, runtimeapi.PodSandboxState_SANDBOX_READY, []string{"c1 CONTAINER_EXITED", "c2 CONTAINER_CREATED"}}},
		// The deleted container's last status, in its place.
		{"", "c1", &events.ContainerRemoved{}, &want{"c1", []runtimeapi.ContainerEventType{deleted}, runtimeapi.PodSandboxState_SANDBOX_READY, []string{"c1 CONTAINER_EXITED", "c2 CONTAINER_CREATED"}}},
		{"", "c2", &events.ContainerExited{}, &want{"c2", []runtimeapi.ContainerEventType{stopped}, runtimeapi.PodSandboxState_SANDBOX_READY, []string{"c2 CONTAINER_EXITED"}}},
		{"sb", "", &events.SandboxStopped{}, &want{"sb", []runtimeapi.ContainerEventType{stopped}, runtimeapi.PodSandboxState_SANDBOX_NOTREADY, []string{"c2 CONTAINER_EXITED"}}},
		{"sb", "", &events.SandboxNetworkTornDown{}, nil},
		{"", "c2", &events.ContainerRemoved{}, &want{"c2", []runtimeapi.ContainerEventType{deleted}, runtimeapi.PodSandboxState_SANDBOX_NOTREADY, []string{"c2 CONTAINER_EXITED"}}},
		{"sb", "", &events.SandboxRemoved{}, &want{"sb", []runtimeapi.ContainerEventType{deleted}, runtimeapi.PodSandboxState_SANDBOX_NOTREADY, nil}},
		{"sb2", "", sandboxCreating("sb2"), nil},
		{"sb2", "", &events.SandboxRemoved{Reason: "rolled back"}, nil}, // never visible
		{"", "", imagePulled(imageID(1)), nil},
	}
	for i, st := range steps {
		f.must(st.sid, st.cid, st.m)
		e := f.lastEvent()
		got := f.s.CRIEvents(e)
		if st.want == nil {
			if len(got) != 0 {
				t.Fatalf("step %d (%s): %d events, want none", i, e.Type, len(got))
			}
			continue
		}
		w := st.want
		if len(got) != len(w.types) {
			t.Fatalf("step %d (%s): %d events, want %d", i, e.Type, len(got), len(w.types))
		}
		for j, ev := range got {
			if ev.ContainerId != w.id || ev.ContainerEventType != w.types[j] || ev.CreatedAt != e.Time {
				t.Fatalf("step %d (%s): event %v, want id %s type %v at %d", i, e.Type, ev, w.id, w.types[j], e.Time)
			}
			ps := ev.PodSandboxStatus
			if ps.GetId() != "sb" || ps.GetState() != w.pod || ps.GetMetadata().GetName() != "pod-sb" || ps.GetCreatedAt() == 0 {
				t.Fatalf("step %d (%s): pod status %v", i, e.Type, ps)
			}
			var ctrs []string
			for _, cs := range ev.ContainersStatuses {
				ctrs = append(ctrs, cs.Id+" "+cs.State.String())
			}
			if len(ctrs) != len(w.ctrs) {
				t.Fatalf("step %d (%s): containers %v, want %v", i, e.Type, ctrs, w.ctrs)
			}
			for k := range ctrs {
				if ctrs[k] != w.ctrs[k] {
					t.Fatalf("step %d (%s): containers %v, want %v", i, e.Type, ctrs, w.ctrs)
				}
			}
		}
		// Only right after Apply: the next event's position is another one.
		if later := f.s.CRIEvents(Event{Seq: e.Seq - 1, Type: e.Type, SandboxID: e.SandboxID, ContainerID: e.ContainerID}); later != nil {
			t.Fatalf("step %d: CRIEvents of an earlier event returned %d", i, len(later))
		}
	}
}

// A DELETED sandbox event carries the sandbox's last status, network
// included as it last was.
func TestCRIEventDeletedSandboxStatus(t *testing.T) {
	f := newFixture(t)
	f.sandboxIn("sb", SandboxNotReady)
	before := f.s.sandboxes["sb"].CRIStatus()
	f.must("sb", "", &events.SandboxRemoved{})
	evs := f.s.CRIEvents(f.lastEvent())
	if len(evs) != 1 || !proto.Equal(evs[0].PodSandboxStatus, before) {
		t.Fatalf("deleted event %v, want status %v", evs, before)
	}
	// The removal is forgotten by the next event.
	f.must("", "", imagePulled(imageID(1)))
	if f.s.lastRemovedSandbox != nil {
		t.Fatal("lastRemovedSandbox outlived its event")
	}
}
