package criserver

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

// TestWireFieldNumbers: the field numbers the list handlers write are the
// lists' in the CRI's own descriptors.
func TestWireFieldNumbers(t *testing.T) {
	for _, c := range []struct {
		m     proto.Message
		field protoreflect.Name
		num   int
	}{
		{&runtimeapi.ListContainersResponse{}, "containers", listContainersField},
		{&runtimeapi.ListPodSandboxResponse{}, "items", listPodSandboxField},
	} {
		fd := c.m.ProtoReflect().Descriptor().Fields().ByName(c.field)
		if fd == nil || int(fd.Number()) != c.num || !fd.IsList() || fd.Kind() != protoreflect.MessageKind {
			t.Errorf("%T.%s: descriptor %v, the handler writes field %d", c.m, c.field, fd, c.num)
		}
	}
}

// TestListsFromWireCache: what a client decodes from the cached encodings
// equals the lists built afresh from the projection, filtered or not,
// across transitions (a changed object is re-encoded) and removals (a
// removed one is gone).
func TestListsFromWireCache(t *testing.T) {
	ctx := context.Background()
	st := podStore(t, 5)
	f := &fakeLifecycle{}
	c := serve(t, Deps{Config: testConfig(t), Projection: st, Sandboxes: f, Containers: f}, discard(), nil)
	svc := &RuntimeService{deps: Deps{Projection: st}}
	seq := st.Seq()
	apply := func(sb, ctr string, m proto.Message) {
		t.Helper()
		typ, b, err := events.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		seq++
		st.ApplyRecords([]journal.Record{{Seq: seq, Time: int64(seq), Type: string(typ), SandboxID: sb, ContainerID: ctr, Payload: b}})
		if st.Skipped() != 0 {
			t.Fatalf("the store refused %s", typ)
		}
	}
	running := runtimeapi.ContainerState_CONTAINER_RUNNING
	filters := []*runtimeapi.ContainerFilter{
		nil,
		{PodSandboxId: "aaaa1111"},
		{State: &runtimeapi.ContainerStateValue{State: running}},
		{Id: "dddd0003"},
	}
	check := func(step string) {
		t.Helper()
		for _, flt := range filters {
			got, err := c.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: flt})
			if err != nil {
				t.Fatalf("%s: ListContainers(%v): %v", step, flt, err)
			}
			want := &runtimeapi.ListContainersResponse{Containers: svc.criContainerList(flt)}
			if !proto.Equal(got, want) {
				t.Errorf("%s: ListContainers(%v):\n got %v\nwant %v", step, flt, got, want)
			}
		}
		got, err := c.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			t.Fatalf("%s: ListPodSandbox: %v", step, err)
		}
		if want := (&runtimeapi.ListPodSandboxResponse{Items: svc.criSandboxList(nil)}); !proto.Equal(got, want) {
			t.Errorf("%s: ListPodSandbox:\n got %v\nwant %v", step, got, want)
		}
	}
	check("fresh")
	check("again, from the cache")
	for i := range 3 {
		apply("bbbb2222", fmt.Sprintf("dddd%04d", i), &events.ContainerStarted{Pid: 20})
	}
	check("three started")
	apply("bbbb2222", "dddd0000", &events.ContainerExited{ExitCode: 2})
	apply("bbbb2222", "dddd0000", &events.ContainerRemoved{})
	apply("aaaa1111", "cccc0001", &events.ContainerExited{ExitCode: 137})
	apply("aaaa1111", "cccc0002", &events.ContainerExited{ExitCode: 137})
	apply("aaaa1111", "", &events.SandboxStopped{})
	check("one removed, a pod stopped")
	if n := len(svc.criContainerList(nil)); n != 6 {
		t.Fatalf("fixture: %d containers listed, want 6", n)
	}
}
