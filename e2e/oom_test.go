package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/criserver"
	"github.com/logbook-cri/logbook/projector/eventstream"
)

// The OOM scenarios of issue 7: a container that allocates past its memory
// limit is reported OOMKilled (exit code 137), with the daemon up, and
// with the daemon killed before the OOM and restarted after it; either way
// the exit reaches GetContainerEvents as an ordinary STOPPED event whose
// statuses say OOMKilled (after a restart, through a resumed stream).

// oomConfig is critest's OOM container: dd allocating 20 MiB blocks under
// a 15 MiB limit, swap included. With a trigger directory (bind-mounted at
// /trigger), it first waits for the file "go" to appear there, so the test
// decides when the OOM happens.
func oomConfig(name, trigger string) *runtimeapi.ContainerConfig {
	script := "dd if=/dev/zero of=/dev/null bs=20M"
	if trigger != "" {
		script = "while [ ! -e /trigger/go ]; do sleep 0.1; done; " + script
	}
	c := containerConfig(name, "sh", "-c", script)
	c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 15 << 20, MemorySwapLimitInBytes: 15 << 20}
	if trigger != "" {
		c.Mounts = []*runtimeapi.Mount{{HostPath: trigger, ContainerPath: "/trigger", Readonly: true}}
	}
	return c
}

// eventsFrom opens GetContainerEvents, resuming after seq unless it is
// nil, and returns the stream and the position it starts after.
func eventsFrom(t *testing.T, ctx context.Context, d *daemon, after *uint64) (grpc.ServerStreamingClient[runtimeapi.ContainerEventResponse], uint64) {
	t.Helper()
	if after != nil {
		ctx = metadata.AppendToOutgoingContext(ctx, criserver.LastSeqHeader, strconv.FormatUint(*after, 10))
	}
	s, err := d.rt.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := s.Header()
	if err != nil {
		t.Fatal(err)
	}
	pos, err := strconv.ParseUint(firstOf(md.Get(criserver.LastSeqHeader)), 10, 64)
	if err != nil {
		t.Fatalf("the stream's start position: %v", err)
	}
	return s, pos
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// awaitStopped reads events until the STOPPED event of container id, and
// returns it; every event's sequence number seen is kept in last.
func awaitStopped(t *testing.T, s grpc.ServerStreamingClient[runtimeapi.ContainerEventResponse], id string, last *uint64) *runtimeapi.ContainerEventResponse {
	t.Helper()
	for {
		m, err := s.Recv()
		if err != nil {
			t.Fatalf("waiting for the exit event of %s: %v", id, err)
		}
		if seq, ok := eventstream.SeqOf(m); ok && seq > *last {
			*last = seq
		}
		if m.GetContainerId() == id && m.GetContainerEventType() == runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT {
			return m
		}
	}
}

// statusOf finds id among an event's container statuses.
func statusOf(m *runtimeapi.ContainerEventResponse, id string) *runtimeapi.ContainerStatus {
	for _, s := range m.GetContainersStatuses() {
		if s.GetId() == id {
			return s
		}
	}
	return nil
}

func oomKilled(st *runtimeapi.ContainerStatus) error {
	if st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || st.GetReason() != "OOMKilled" || st.GetExitCode() != 137 {
		return fmt.Errorf("state %v, exit code %d, reason %q; want EXITED, 137, OOMKilled", st.GetState(), st.GetExitCode(), st.GetReason())
	}
	return nil
}

// oomPod pulls busybox and runs a pod.
func oomPod(t *testing.T, e *env, name string) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}}); err != nil {
		t.Fatal(err)
	}
	pod := e.podConfig(name)
	run, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod})
	if err != nil {
		t.Fatal(err)
	}
	return run.PodSandboxId, pod
}

func TestOOMKilled(t *testing.T) {
	e := newEnv(t, "lboom0", 240)
	e.start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, _ := eventsFrom(t, ctx, e.d, nil)
	podID, pod := oomPod(t, e, "oom")
	c, err := e.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: oomConfig("hog", ""), SandboxConfig: pod})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the OOM kill", 60*time.Second, func() error {
		st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.ContainerId})
		if err != nil {
			return err
		}
		return oomKilled(st.GetStatus())
	})
	var last uint64
	stopped := awaitStopped(t, events, c.ContainerId, &last)
	if err := oomKilled(statusOf(stopped, c.ContainerId)); err != nil {
		t.Errorf("the STOPPED event's status: %v", err)
	}
}

func TestOOMKilledWhileDaemonDown(t *testing.T) {
	e := newEnv(t, "lboom1", 241)
	e.start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, last := eventsFrom(t, ctx, e.d, nil)
	podID, pod := oomPod(t, e, "oomdown")
	// The allocation starts when the test says so: after the daemon is
	// killed.
	trigger := filepath.Join(e.dir, "trigger")
	if err := os.MkdirAll(trigger, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := e.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: oomConfig("hog", trigger), SandboxConfig: pod})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatal(err)
	}
	st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.ContainerId, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetStatus().GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("before the kill: %v", st.GetStatus().GetState())
	}
	var info struct{ Pid int }
	if err := json.Unmarshal([]byte(st.GetInfo()["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("the container's pid from its verbose status: %v (%q)", err, st.GetInfo()["info"])
	}
	// The client has seen the events up to the start; it will resume
	// after the last one.
	for {
		m, err := events.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if seq, ok := eventstream.SeqOf(m); ok {
			last = max(last, seq)
		}
		if m.GetContainerId() == c.ContainerId && m.GetContainerEventType() == runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT {
			break
		}
	}
	cancel()

	e.kill()
	// The OOM killer ends the container while no daemon runs.
	if err := os.WriteFile(filepath.Join(trigger, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	poll(t, "the container's end while the daemon is down", 60*time.Second, func() error {
		if err := syscall.Kill(info.Pid, 0); errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("pid %d still runs", info.Pid)
	})

	e.start()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	poll(t, "the recovered exit", 30*time.Second, func() error {
		st, err := e.d.rt.ContainerStatus(ctx2, &runtimeapi.ContainerStatusRequest{ContainerId: c.ContainerId})
		if err != nil {
			return err
		}
		return oomKilled(st.GetStatus())
	})
	// Resumed after the last event seen before the crash, the stream
	// replays the exit recovery journaled, as an ordinary event.
	resumed, pos := eventsFrom(t, ctx2, e.d, &last)
	if pos != last {
		t.Errorf("the resumed stream starts after %d, want %d", pos, last)
	}
	stopped := awaitStopped(t, resumed, c.ContainerId, &last)
	if err := oomKilled(statusOf(stopped, c.ContainerId)); err != nil {
		t.Errorf("the replayed STOPPED event's status: %v", err)
	}
}
