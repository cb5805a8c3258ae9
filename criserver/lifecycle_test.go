package criserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
)

// fakeLifecycle records calls and answers with err.
type fakeLifecycle struct {
	calls []string
	err   error
}

func (f *fakeLifecycle) call(s string) error { f.calls = append(f.calls, s); return f.err }

func (f *fakeLifecycle) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	return "sb-new", f.call("run " + cfg.GetMetadata().GetName() + " " + handler)
}
func (f *fakeLifecycle) StopPodSandbox(ctx context.Context, id string) error {
	return f.call("stop-pod " + id)
}
func (f *fakeLifecycle) RemovePodSandbox(ctx context.Context, id string) error {
	return f.call("remove-pod " + id)
}
func (f *fakeLifecycle) UpdatePodSandboxResources(ctx context.Context, id string, o, r *runtimeapi.LinuxContainerResources) error {
	return f.call(fmt.Sprintf("update-pod %s %d", id, r.GetCpuShares()))
}
func (f *fakeLifecycle) CreateContainer(ctx context.Context, sb string, cfg *runtimeapi.ContainerConfig) (string, error) {
	return "c-new", f.call("create " + sb + " " + cfg.GetMetadata().GetName())
}
func (f *fakeLifecycle) StartContainer(ctx context.Context, id string) error {
	return f.call("start " + id)
}
func (f *fakeLifecycle) StopContainer(ctx context.Context, id string, timeout int64) error {
	return f.call(fmt.Sprintf("stop %s %d", id, timeout))
}
func (f *fakeLifecycle) RemoveContainer(ctx context.Context, id string) error {
	return f.call("remove " + id)
}
func (f *fakeLifecycle) UpdateContainerResources(ctx context.Context, id string, r *runtimeapi.LinuxContainerResources) error {
	return f.call(fmt.Sprintf("update %s %d", id, r.GetCpuQuota()))
}
func (f *fakeLifecycle) ReopenContainerLog(ctx context.Context, id string) error {
	return f.call("reopen " + id)
}
func (f *fakeLifecycle) RuntimeSpec(id string) (json.RawMessage, bool) {
	return json.RawMessage(`{"ociVersion":"1.0.2"}`), true
}

// podStore is a projection holding one ready pod ("aaaa1111") with two
// containers, and nContainers more in a second pod.
func podStore(t testing.TB, nContainers int) *projector.Store {
	t.Helper()
	st := projector.NewStore(nil, nil)
	var seq uint64
	add := func(sb, c string, m proto.Message) {
		typ, b, err := events.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		seq++
		st.ApplyRecords([]journal.Record{{Seq: seq, Time: int64(seq), Type: string(typ), SandboxID: sb, ContainerID: c, Payload: b}})
	}
	pod := func(id, name string) {
		add(id, "", &events.SandboxCreating{Config: &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "ns", Uid: name}}})
		add(id, "", &events.SandboxReady{Pid: 10})
	}
	ctr := func(sb, id, name string) {
		add(sb, id, &events.ContainerCreating{Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "busybox"}}})
		add(sb, id, &events.ContainerCreated{Pid: 11})
	}
	pod("aaaa1111", "p1")
	ctr("aaaa1111", "cccc0001", "c1")
	ctr("aaaa1111", "cccc0002", "c2")
	pod("bbbb2222", "p2")
	for i := 0; i < nContainers; i++ {
		ctr("bbbb2222", fmt.Sprintf("dddd%04d", i), fmt.Sprintf("d%d", i))
	}
	if st.Skipped() != 0 {
		t.Fatalf("fixture refused %d events", st.Skipped())
	}
	return st
}

// TestPodSandboxStatusPodEvents: with enable-pod-events, a timestamp and
// every container's status, together; without it, neither.
func TestPodSandboxStatusPodEvents(t *testing.T) {
	ctx := context.Background()
	for _, on := range []bool{true, false} {
		cfg := testConfig(t)
		cfg.EnablePodEvents = on
		f := &fakeLifecycle{}
		c := serve(t, Deps{Config: cfg, Projection: podStore(t, 0), Sandboxes: f, Containers: f}, discard(), nil)
		resp, err := c.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "aaaa1111", Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetStatus().GetId() != "aaaa1111" || resp.GetStatus().GetState() != runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Errorf("status %v", resp.GetStatus())
		}
		if !strings.Contains(resp.GetInfo()["info"], `"pid":10`) {
			t.Errorf("verbose info %v", resp.GetInfo())
		}
		hasTime, n := resp.GetTimestamp() != 0, len(resp.GetContainersStatuses())
		if on && (!hasTime || n != 2) || !on && (hasTime || n != 0) {
			t.Errorf("pod events %v: timestamp %v, %d container statuses", on, hasTime, n)
		}
	}
}

func TestLifecycleReads(t *testing.T) {
	ctx := context.Background()
	f := &fakeLifecycle{}
	c := serve(t, Deps{Config: testConfig(t), Projection: podStore(t, 600), Sandboxes: f, Containers: f}, discard(), nil)

	// Prefixes resolve when unique; an unknown ID is NotFound.
	st, err := c.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "bbbb"})
	if err != nil || st.GetStatus().GetId() != "bbbb2222" {
		t.Errorf("prefix: %v %v", st, err)
	}
	_, err = c.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "ffff"})
	assertCode(t, err, codes.NotFound, "ffff")
	cs, err := c.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: "cccc0002", Verbose: true})
	if err != nil || cs.GetStatus().GetMetadata().GetName() != "c2" || cs.GetStatus().GetState() != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Fatalf("container status: %v %v", cs, err)
	}
	var info map[string]json.RawMessage
	if err := json.Unmarshal([]byte(cs.GetInfo()["info"]), &info); err != nil || string(info["runtimeSpec"]) != `{"ociVersion":"1.0.2"}` || string(info["pid"]) != "11" {
		t.Errorf("verbose info %s (%v)", cs.GetInfo()["info"], err)
	}
	_, err = c.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: "cccc"})
	assertCode(t, err, codes.NotFound, "cccc") // ambiguous prefix

	lc, err := c.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: "aaaa1111"}})
	if err != nil || len(lc.GetContainers()) != 2 || lc.GetContainers()[0].GetId() != "cccc0001" {
		t.Errorf("list containers: %v %v", lc, err)
	}
	lp, err := c.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(lp.GetItems()) != 2 {
		t.Errorf("list pods: %v %v", lp, err)
	}

	// Streams: the same list in pages.
	stream, err := c.runtime.StreamContainers(ctx, &runtimeapi.StreamContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var pages, total int
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total += len(msg.GetContainers())
	}
	if total != 602 || pages != 3 {
		t.Errorf("streamed %d containers in %d pages, want 602 in 3", total, pages)
	}
	ps, err := c.runtime.StreamPodSandboxes(ctx, &runtimeapi.StreamPodSandboxesRequest{Filter: &runtimeapi.PodSandboxFilter{Id: "aaaa1111"}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := ps.Recv()
	if err != nil || len(msg.GetPodSandboxes()) != 1 {
		t.Fatalf("stream pods: %v %v", msg, err)
	}
	if _, err := ps.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("second page: %v", err)
	}
}

// TestLifecycleCommands: the adapters pass requests through and map the
// aggregates' errors to codes.
func TestLifecycleCommands(t *testing.T) {
	ctx := context.Background()
	f := &fakeLifecycle{}
	c := serve(t, Deps{Config: testConfig(t), Projection: podStore(t, 0), Sandboxes: f, Containers: f}, discard(), nil)
	meta := &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "n", Uid: "u"}
	run, err := c.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{Metadata: meta}, RuntimeHandler: "runc"})
	if err != nil || run.GetPodSandboxId() != "sb-new" {
		t.Fatalf("run: %v %v", run, err)
	}
	cr, err := c.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-new", Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "busybox"}}})
	if err != nil || cr.GetContainerId() != "c-new" {
		t.Fatalf("create: %v %v", cr, err)
	}
	calls := []func() error{
		func() error {
			_, err := c.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: "c-new"})
			return err
		},
		func() error {
			_, err := c.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: "c-new", Timeout: 30})
			return err
		},
		func() error {
			_, err := c.runtime.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: "c-new",
				Linux: &runtimeapi.LinuxContainerResources{CpuQuota: 5000}})
			return err
		},
		func() error {
			_, err := c.runtime.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: "c-new"})
			return err
		},
		func() error {
			_, err := c.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: "c-new"})
			return err
		},
		func() error {
			_, err := c.runtime.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: "sb-new",
				Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512}})
			return err
		},
		func() error {
			_, err := c.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: "sb-new"})
			return err
		},
		func() error {
			_, err := c.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: "sb-new"})
			return err
		},
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Error(err)
		}
	}
	want := []string{"run p runc", "create sb-new c", "start c-new", "stop c-new 30", "update c-new 5000", "reopen c-new",
		"remove c-new", "update-pod sb-new 512", "stop-pod sb-new", "remove-pod sb-new"}
	if strings.Join(f.calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls %q, want %q", f.calls, want)
	}

	_, err = c.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: "c", Timeout: -1})
	assertCode(t, err, codes.InvalidArgument, "timeout")

	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("sandbox x: %w", runtime.ErrNotFound), codes.NotFound},
		{fmt.Errorf("name taken: %w", runtime.ErrAlreadyExists), codes.AlreadyExists},
		{fmt.Errorf("bad log path: %w", runtime.ErrInvalidArgument), codes.InvalidArgument},
		{fmt.Errorf("pod stopped: %w", runtime.ErrFailedPrecondition), codes.FailedPrecondition},
		{fmt.Errorf("%w: sysctl", oci.ErrInvalid), codes.InvalidArgument},
		{fmt.Errorf("%w: apparmor", oci.ErrUnsupported), codes.Unimplemented},
		{fmt.Errorf("%w: no netns path", oci.ErrBadInput), codes.Internal},
	} {
		f.err = tc.err
		_, err := c.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: "c"})
		assertCode(t, err, tc.code, tc.err.Error())
	}
}
