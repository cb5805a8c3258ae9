package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestCrictlLifecycle drives a pod and a container through their whole
// life with the real crictl: runp, create, start, ps, inspect, logs,
// exec, stop, rm, stopp, rmp.
func TestCrictlLifecycle(t *testing.T) {
	e := newEnv(t, "lbe2e0", 231)
	e.start()
	pod := e.podConfig("web")
	podJSON, _ := json.Marshal(pod)
	ctr := containerConfig("app", "sh", "-c", "echo hello from $(hostname); exec sleep 1000")
	ctrJSON, _ := json.Marshal(ctr)
	podFile, ctrFile := filepath.Join(e.dir, "pod.json"), filepath.Join(e.dir, "ctr.json")
	os.WriteFile(podFile, podJSON, 0o644)
	os.WriteFile(ctrFile, ctrJSON, 0o644)

	e.mustCrictl("pull", busybox)
	podID := e.mustCrictl("runp", podFile)
	if len(podID) != 64 {
		t.Fatalf("runp printed %q", podID)
	}
	if got := e.mustCrictl("pods", "-q"); got != podID {
		t.Errorf("pods -q = %q", got)
	}
	var inspectp struct {
		Status struct {
			State   string `json:"state"`
			Network struct {
				IP string `json:"ip"`
			} `json:"network"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(e.mustCrictl("inspectp", podID)), &inspectp); err != nil {
		t.Fatal(err)
	}
	if inspectp.Status.State != "SANDBOX_READY" || !strings.HasPrefix(inspectp.Status.Network.IP, "10.199.231.") {
		t.Errorf("inspectp: %+v", inspectp.Status)
	}

	ctrID := e.mustCrictl("create", podID, ctrFile, podFile)
	e.mustCrictl("start", ctrID)
	if got := e.mustCrictl("ps", "-q"); got != ctrID {
		t.Errorf("ps -q = %q, want %s", got, ctrID)
	}
	poll(t, "the container's log", 10*time.Second, func() error {
		out, err := e.crictl("logs", ctrID)
		if err == nil && !strings.Contains(out, "hello from web") {
			err = os.ErrNotExist
		}
		return err
	})
	if out := e.mustCrictl("exec", "-s", ctrID, "sh", "-c", "echo $((6*7))"); out != "42" {
		t.Errorf("exec: %q", out)
	}
	var inspect struct {
		Status struct {
			State    string `json:"state"`
			ExitCode int    `json:"exitCode"`
			Reason   string `json:"reason"`
			LogPath  string `json:"logPath"`
		} `json:"status"`
		Info struct {
			Pid         int             `json:"pid"`
			RuntimeSpec json.RawMessage `json:"runtimeSpec"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(e.mustCrictl("inspect", ctrID)), &inspect); err != nil {
		t.Fatal(err)
	}
	if inspect.Status.State != "CONTAINER_RUNNING" || inspect.Info.Pid == 0 || len(inspect.Info.RuntimeSpec) == 0 ||
		inspect.Status.LogPath != filepath.Join(pod.LogDirectory, "app.log") {
		t.Errorf("inspect running: %+v, pid %d", inspect.Status, inspect.Info.Pid)
	}

	e.mustCrictl("stop", "--timeout", "2", ctrID)
	inspect.Info.RuntimeSpec = nil
	if err := json.Unmarshal([]byte(e.mustCrictl("inspect", ctrID)), &inspect); err != nil {
		t.Fatal(err)
	}
	if inspect.Status.State != "CONTAINER_EXITED" || inspect.Status.ExitCode != 137 && inspect.Status.ExitCode != 143 {
		t.Errorf("inspect stopped: %+v", inspect.Status)
	}
	e.mustCrictl("rm", ctrID)
	if got := e.mustCrictl("ps", "-a", "-q"); got != "" {
		t.Errorf("ps -a after rm: %q", got)
	}
	e.mustCrictl("stopp", podID)
	e.mustCrictl("rmp", podID)
	if got := e.mustCrictl("pods", "-q"); got != "" {
		t.Errorf("pods after rmp: %q", got)
	}
	e.checkClean(nil)
}

// TestRestartKeepsContainers: with the Go CRI client, containers run on
// across a clean daemon restart and across a SIGKILL; one that exits
// while the daemon is away has its real exit code when it comes back.
func TestRestartKeepsContainers(t *testing.T) {
	e := newEnv(t, "lbe2e1", 232)
	d := e.start()
	ctx := context.Background()
	if _, err := d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}}); err != nil {
		t.Fatal(err)
	}
	pod := e.podConfig("keep")
	run, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string, cmd ...string) string {
		t.Helper()
		c, err := e.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: run.PodSandboxId,
			Config: containerConfig(name, cmd...), SandboxConfig: pod})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			t.Fatal(err)
		}
		return c.ContainerId
	}
	long := create("long", "sleep", "1000")
	status := func(id string) *runtimeapi.ContainerStatus {
		t.Helper()
		st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		return st.GetStatus()
	}
	pidOf := func(id string) int {
		t.Helper()
		st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		var info struct{ Pid int }
		json.Unmarshal([]byte(st.GetInfo()["info"]), &info)
		return info.Pid
	}
	pid := pidOf(long)

	// A clean restart.
	e.stop()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the container died with the daemon: %v", err)
	}
	e.start()
	if st := status(long); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("after a clean restart: %v", st.State)
	}

	// A SIGKILL while a container is about to exit on its own.
	short := create("short", "sh", "-c", "sleep 1; exit 7")
	e.kill()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the container died with the killed daemon: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // the short one ends meanwhile
	e.start()
	poll(t, "the short container's exit", 10*time.Second, func() error {
		if st := status(short); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 7 || st.Reason != "Error" {
			return &stateError{st}
		}
		return nil
	})
	if st := status(long); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("after a SIGKILL: %v", st.State)
	}
	// The recovered monitor still sees the long one's end.
	if _, err := e.d.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: long, Timeout: 0}); err != nil {
		t.Fatal(err)
	}
	if st := status(long); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 137 {
		t.Errorf("stopped after restarts: %v %d", st.State, st.ExitCode)
	}
}

type stateError struct{ st *runtimeapi.ContainerStatus }

func (e *stateError) Error() string {
	return e.st.State.String() + " exit " + string(rune('0'+e.st.ExitCode%10)) + " " + e.st.Reason
}
