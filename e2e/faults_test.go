package e2e

// Faults besides SIGKILL (issue 8, item 2), each against the real daemon:
// a full disk under the root and under the state directory, a runc that
// fails or hangs on chosen calls, a CNI plugin that fails or hangs, a
// registry that corrupts or stalls blobs, and a shim killed under its
// container. Every one ends the same way: the caller got a clear gRPC
// error (its code, and a message naming what failed), the journal
// verifies, nothing leaked, and the daemon goes on serving other pods.
// The fault helpers are in testdata/faults.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/testdata/faults"
)

// pullBusybox pulls the image every container runs.
func (e *env) pullBusybox(ctx context.Context) {
	e.t.Helper()
	if _, err := e.d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}}); err != nil {
		e.t.Fatal(err)
	}
}

// survivor runs a pod with a sleeping container that must come through
// every fault untouched; check says whether it did.
func (e *env) survivor(ctx context.Context) (check func()) {
	e.t.Helper()
	cfg := e.podConfig("survivor")
	p, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p.PodSandboxId, SandboxConfig: cfg,
		Config: containerConfig("survivor", "sleep", "1000")})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		e.t.Fatal(err)
	}
	return func() {
		e.t.Helper()
		st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.ContainerId})
		if err != nil || st.GetStatus().GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
			e.t.Errorf("the survivor container: %v %v", st.GetStatus().GetState(), err)
		}
		ps, err := e.d.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.PodSandboxId})
		if err != nil || ps.GetStatus().GetState() != runtimeapi.PodSandboxState_SANDBOX_READY {
			e.t.Errorf("the survivor pod: %v %v", ps.GetStatus().GetState(), err)
		}
		r, err := e.d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: c.ContainerId, Cmd: []string{"echo", "ok"}, Timeout: 30})
		if err != nil || string(r.GetStdout()) != "ok\n" {
			e.t.Errorf("exec in the survivor: %v %q", err, r.GetStdout())
		}
	}
}

// listedNames are the metadata names of the listed containers.
func (e *env) listedNames(ctx context.Context) map[string]runtimeapi.ContainerState {
	e.t.Helper()
	l, err := e.d.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]runtimeapi.ContainerState{}
	for _, c := range l.GetContainers() {
		out[c.GetMetadata().GetName()] = c.GetState()
	}
	return out
}

// TestFaultRuncFails: runc (testdata/faults/runc-fault as runtime-path)
// refuses or hangs on chosen subcommands. A refusal of the OCI runtime is
// neither the caller's fault nor a class of error the CRI names: it is
// Unknown, carrying runc's own message, as containerd and CRI-O answer
// it; a hang is cut at the caller's deadline.
func TestFaultRuncFails(t *testing.T) {
	e := newEnv(t, "lbflt0", 212)
	e.keepLogs()
	dir := filepath.Join(e.dir, "faults")
	runc := e.installFault("runc-fault", dir, "runc")
	ruleFile := filepath.Join(dir, "runc-fault.rules")
	e.configure(map[string]any{"runtime-path": runc})
	e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e.pullBusybox(ctx)
	alive := e.survivor(ctx)
	cfg := e.podConfig("victim")
	pod, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string) (string, error) {
		c, err := e.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, SandboxConfig: cfg,
			Config: containerConfig(name, "sleep", "1000")})
		return c.GetContainerId(), err
	}

	// runc create fails: the creation is rolled back, nothing is listed.
	rules(t, ruleFile, "create fail injected fault: runc create refused")
	_, err = create("nocreate")
	wantCode(t, "CreateContainer with runc create failing", err, codes.Unknown, "injected fault: runc create refused")
	if _, ok := e.listedNames(ctx)["nocreate"]; ok {
		t.Error("a container whose runc create failed is listed")
	}
	e.consistent()

	// runc start fails: the container ends as StartError (128).
	rules(t, ruleFile, "start fail injected fault: runc start refused")
	id, err := create("nostart")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	wantCode(t, "StartContainer with runc start failing", err, codes.Unknown, "injected fault: runc start refused")
	st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		t.Fatal(err)
	}
	if s := st.GetStatus(); s.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || s.GetExitCode() != 128 ||
		s.GetReason() != "StartError" || !strings.Contains(s.GetMessage(), "runc start refused") {
		t.Errorf("after a failed start: %v %d %q %q, want EXITED 128 StartError with runc's message", s.GetState(), s.GetExitCode(), s.GetReason(), s.GetMessage())
	}
	e.consistent()

	// runc start hangs (a wedged runc): the call ends at the caller's
	// deadline, runc is killed, the container ends as StartError.
	rules(t, ruleFile, "start hang")
	id, err = create("hangstart")
	if err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithTimeout(ctx, 3*time.Second)
	t0 := time.Now()
	_, err = e.d.rt.StartContainer(hctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	hcancel()
	wantCode(t, "StartContainer with runc start hanging", err, codes.DeadlineExceeded)
	if took := time.Since(t0); took > 15*time.Second {
		t.Errorf("StartContainer with a hanging runc returned after %v; its deadline was 3s", took)
	}
	rules(t, ruleFile, "")
	poll(t, "the hung start to end the container", 30*time.Second, func() error {
		st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			return err
		}
		if s := st.GetStatus(); s.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || s.GetReason() != "StartError" {
			return fmt.Errorf("%v %q", s.GetState(), s.GetReason())
		}
		return nil
	})
	e.consistent()

	// runc run fails (a pod's infra): the pod is rolled back, network
	// and all.
	rules(t, ruleFile, "run fail injected fault: runc run refused")
	_, err = e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.podConfig("norun")})
	wantCode(t, "RunPodSandbox with runc run failing", err, codes.Unknown, "injected fault: runc run refused")
	e.consistent()

	// runc exec fails: the caller is told, the container runs on.
	rules(t, ruleFile, "")
	id, err = create("running")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	rules(t, ruleFile, "exec fail injected fault: runc exec refused")
	_, err = e.d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"true"}, Timeout: 10})
	wantCode(t, "ExecSync with runc exec failing", err, codes.Unknown, "injected fault: runc exec refused")

	// runc kill fails: StopContainer says so; the container runs on and a
	// later stop works.
	rules(t, ruleFile, "kill fail injected fault: runc kill refused")
	_, err = e.d.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 0})
	wantCode(t, "StopContainer with runc kill failing", err, codes.Unknown, "injected fault: runc kill refused")
	if s := e.listedNames(ctx)["running"]; s != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("after a failed stop the container is %v, want RUNNING", s)
	}
	e.consistent()

	// runc delete fails after the container exits: removal reports it
	// and a later removal cleans up everything.
	rules(t, ruleFile, "delete fail injected fault: runc delete refused")
	_, err = e.d.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
	if err != nil {
		wantCode(t, "RemoveContainer with runc delete failing", err, codes.Unknown, "injected fault: runc delete refused")
	}
	rules(t, ruleFile, "")
	if _, err := e.d.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Errorf("RemoveContainer once runc works again: %v", err)
	}
	if _, err := e.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId}); err != nil {
		t.Errorf("RemovePodSandbox once runc works again: %v", err)
	}
	e.consistent()
	alive()
	e.servesOthers("after-runc")
}

// hungPlugins are the pids the hanging plugin recorded: itself and its
// stuck child.
func hungPlugins(dir string) []int {
	b, _ := os.ReadFile(filepath.Join(dir, "cni-fault.pids"))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// alive tells whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func TestFaultCNI(t *testing.T) {
	e := newEnv(t, "lbflt1", 213)
	e.keepLogs()
	plugins := filepath.Join(e.dir, "cni-bin")
	e.installFault("cni-fault", plugins, "bridge")
	ruleFile := filepath.Join(plugins, "cni-fault.rules")
	t.Cleanup(func() {
		for _, pid := range hungPlugins(plugins) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	e.configure(map[string]any{"cni-bin-dir": plugins + ":/usr/lib/cni"})
	e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e.pullBusybox(ctx)
	survivor := e.survivor(ctx)

	// ADD fails: the pod is rolled back with its namespace, and the
	// caller hears the plugin's message.
	rules(t, ruleFile, "ADD fail")
	_, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.podConfig("addfail")})
	wantCode(t, "RunPodSandbox with CNI ADD failing", err, codes.Unknown, "injected fault: bridge ADD fails")
	e.consistent()

	// ADD hangs (in a child of the plugin, which keeps its stdout): the
	// call ends at the caller's deadline, not the plugin's, the plugin
	// and its child are killed, and the pod is cleaned up.
	rules(t, ruleFile, "ADD hang")
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	t0 := time.Now()
	_, err = e.d.rt.RunPodSandbox(hctx, &runtimeapi.RunPodSandboxRequest{Config: e.podConfig("addhang")})
	took := time.Since(t0)
	hcancel()
	wantCode(t, "RunPodSandbox with CNI ADD hanging", err, codes.DeadlineExceeded)
	if took > 15*time.Second {
		t.Errorf("RunPodSandbox with a hanging CNI ADD returned after %v; its deadline was 5s", took)
	}
	rules(t, ruleFile, "")
	poll(t, "the hung plugin killed", 30*time.Second, func() error {
		for _, pid := range hungPlugins(plugins) {
			if alive(pid) {
				return fmt.Errorf("plugin process %d still runs", pid)
			}
		}
		return nil
	})
	e.consistent()

	// DEL fails: StopPodSandbox says so and the pod stays NotReady with
	// its network; the next stop tears it down.
	rules(t, ruleFile, "")
	p, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.podConfig("delfail")})
	if err != nil {
		t.Fatal(err)
	}
	rules(t, ruleFile, "DEL fail")
	_, err = e.d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.PodSandboxId})
	wantCode(t, "StopPodSandbox with CNI DEL failing", err, codes.Unknown, "injected fault: bridge DEL fails")
	st, err := e.d.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.PodSandboxId})
	if err != nil || st.GetStatus().GetState() != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("after a failed teardown the pod is %v (%v), want NOTREADY", st.GetStatus().GetState(), err)
	}
	rules(t, ruleFile, "")
	if _, err := e.d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.PodSandboxId}); err != nil {
		t.Errorf("StopPodSandbox once CNI works: %v", err)
	}
	if _, err := e.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.PodSandboxId}); err != nil {
		t.Errorf("RemovePodSandbox once CNI works: %v", err)
	}
	e.consistent()
	survivor()
	e.servesOthers("after-cni")
}

// checkImageStore fails the test if the image store holds a blob whose
// content does not match its name, or anything half-done (ingest, tmp).
func (e *env) checkImageStore() {
	e.t.Helper()
	store := filepath.Join(e.root, "image")
	blobs := filepath.Join(store, "content", "blobs", "sha256")
	for _, name := range listDir(blobs) {
		b, err := os.ReadFile(filepath.Join(blobs, name))
		if err != nil {
			e.t.Error(err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != name {
			e.t.Errorf("blob %s does not match its digest", name)
		}
	}
	poll(e.t, "nothing half-pulled left in the image store", 20*time.Second, func() error {
		var left []string
		for _, d := range []string{"ingest", "tmp"} {
			for _, n := range listDir(filepath.Join(store, d)) {
				left = append(left, d+"/"+n)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
}

// images are the references the daemon lists.
func (e *env) images(ctx context.Context) []string {
	e.t.Helper()
	l, err := e.d.img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, i := range l.GetImages() {
		out = append(out, i.GetRepoTags()...)
	}
	return out
}

func TestFaultRegistry(t *testing.T) {
	e := newEnv(t, "lbflt2", 214)
	e.keepLogs()
	upstream, err := url.Parse(e.mirror())
	if err != nil {
		t.Fatal(err)
	}
	reg := faults.NewRegistry(upstream)
	srv := httptest.NewServer(reg) // loopback
	t.Cleanup(srv.Close)
	t.Cleanup(reg.Release)
	e.configure(map[string]any{"registry-mirrors": map[string][]string{
		"registry.k8s.io": {srv.URL}, "gcr.io": {srv.URL}, "docker.io": {srv.URL}}})
	e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pull := func(ctx context.Context) error {
		_, err := e.d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}})
		return err
	}

	// Corrupt blobs: the pull is refused, nothing of it is kept. The
	// registry failed, not the caller: Unavailable (try again later),
	// naming the blob and the digest it does not match.
	reg.Set(faults.Corrupt)
	wantCode(t, "PullImage of corrupt blobs", pull(ctx), codes.Unavailable, "does not match its digest")
	if reg.Blobs() == 0 {
		t.Fatal("the daemon fetched no blob through the faulty registry")
	}
	if imgs := e.images(ctx); len(imgs) > 0 {
		t.Errorf("images listed after a corrupt pull: %v", imgs)
	}
	e.checkImageStore()
	e.consistent()

	// A stalled blob: the pull ends at the caller's deadline, the daemon
	// serves other calls meanwhile, and nothing of the pull is kept.
	reg.Set(faults.Stall)
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- pull(sctx) }()
	select {
	case <-reg.Stalled():
	case err := <-done:
		t.Fatalf("the pull ended before the registry stalled: %v", err)
	}
	lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := e.d.rt.ListPodSandbox(lctx, &runtimeapi.ListPodSandboxRequest{}); err != nil {
		t.Errorf("ListPodSandbox during a stalled pull: %v", err)
	}
	if _, err := e.d.rt.RunPodSandbox(lctx, &runtimeapi.RunPodSandboxRequest{Config: e.podConfig("duringstall")}); err != nil {
		t.Errorf("RunPodSandbox during a stalled pull: %v", err)
	}
	lcancel()
	err = <-done
	scancel()
	wantCode(t, "PullImage from a stalled registry", err, codes.DeadlineExceeded)
	if took := time.Since(t0); took > 15*time.Second {
		t.Errorf("a stalled pull with a 5s deadline returned after %v", took)
	}
	if imgs := e.images(ctx); len(imgs) > 0 {
		t.Errorf("images listed after a stalled pull: %v", imgs)
	}
	e.checkImageStore()
	e.consistent()

	// The registry recovers: the same pull works.
	reg.Set(faults.Pass)
	reg.Release()
	if err := pull(ctx); err != nil {
		t.Fatalf("PullImage once the registry works: %v", err)
	}
	e.checkImageStore()
	e.servesOthers("after-registry")
	e.consistent()
}

// shimPid reads a shim's pid from its pid file.
func (e *env) shimPid(id string) int {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.state, "shims", id, "shim.pid"))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "pid="); ok {
			var pid int
			if _, err := fmt.Sscan(v, &pid); err == nil && pid > 0 {
				return pid
			}
		}
	}
	e.t.Fatalf("no pid in the shim's pid file: %q", b)
	return 0
}

// runSleeper runs a pod with a running sleep container.
func (e *env) runSleeper(ctx context.Context, name string) (pod, ctr string) {
	e.t.Helper()
	cfg := e.podConfig(name)
	p, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p.PodSandboxId, SandboxConfig: cfg,
		Config: containerConfig(name, "sleep", "1000")})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		e.t.Fatal(err)
	}
	return p.PodSandboxId, c.ContainerId
}

// unknownExit waits for a container to be reported exited with an
// unknown exit (255, Unknown) whose message says why.
func (e *env) unknownExit(ctx context.Context, id string) {
	e.t.Helper()
	poll(e.t, "the container's exit after its shim was killed", 30*time.Second, func() error {
		st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			return err
		}
		s := st.GetStatus()
		if s.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			return fmt.Errorf("state %v", s.GetState())
		}
		if s.GetExitCode() != 255 || s.GetReason() != "Unknown" || !strings.Contains(s.GetMessage(), "shim") {
			e.t.Errorf("exit %d %q %q, want 255 Unknown with a message about the shim", s.GetExitCode(), s.GetReason(), s.GetMessage())
		}
		return nil
	})
}

func TestFaultShimKilled(t *testing.T) {
	e := newEnv(t, "lbflt3", 215)
	e.keepLogs()
	e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e.pullBusybox(ctx)
	survivor := e.survivor(ctx)

	// A container's shim killed: the container is killed too (nobody
	// would record its end) and reported exited, code unknown.
	pod, ctr := e.runSleeper(ctx, "shimkill")
	if err := syscall.Kill(e.shimPid(ctr), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.unknownExit(ctx, ctr)
	if st, _ := e.runcStatus(ctr); st != "" {
		t.Errorf("runc still has the container (%s)", st)
	}
	e.consistent()
	if _, err := e.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Errorf("remove the pod: %v", err)
	}

	// The infra's shim killed: the pod is stopped (NotReady, its
	// containers killed, its network torn down).
	pod, ctr = e.runSleeper(ctx, "infrakill")
	if err := syscall.Kill(e.shimPid(pod), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, "the pod stopped after its infra's shim was killed", 30*time.Second, func() error {
		st, err := e.d.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
		if err != nil {
			return err
		}
		if st.GetStatus().GetState() != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
			return fmt.Errorf("pod %v", st.GetStatus().GetState())
		}
		cs, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ctr})
		if err != nil {
			return err
		}
		if cs.GetStatus().GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			return fmt.Errorf("its container %v", cs.GetStatus().GetState())
		}
		return nil
	})
	e.consistent()
	if _, err := e.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Errorf("remove the pod: %v", err)
	}

	// A shim killed while the daemon is down: found at the restart.
	pod, ctr = e.runSleeper(ctx, "downkill")
	e.kill()
	if err := syscall.Kill(e.shimPid(ctr), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.unknownExit(ctx, ctr)
	e.consistent()
	if _, err := e.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Errorf("remove the pod: %v", err)
	}
	survivor()
	e.servesOthers("after-shims")
	e.consistent()
}

func TestFaultDiskFull(t *testing.T) {
	root, state := tmpfs(t, 64<<20), tmpfs(t, 32<<20)
	e := newEnv(t, "lbflt4", 216)
	e.keepLogs()
	e.root, e.state, e.socket = root, state, filepath.Join(state, "logbook.sock")
	e.configure(map[string]any{"root": e.root, "state": e.state, "socket": e.socket})
	e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The image store full: room for busybox's blobs (1.3 MB) but not
	// for its unpacked layer.
	filler := fill(t, root, 1800<<10)
	_, err := e.d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}})
	wantCode(t, "PullImage on a full disk", err, codes.ResourceExhausted, "no space left on device")
	if imgs := e.images(ctx); len(imgs) > 0 {
		t.Errorf("images listed after a pull that ran out of space: %v", imgs)
	}
	e.checkImageStore()
	e.consistent()
	os.Remove(filler)
	e.pullBusybox(ctx)
	survivor := e.survivor(ctx)

	// The journal's disk full: nothing can be journaled, so nothing is
	// done; what exists is still served.
	filler = fill(t, root, 0)
	t.Logf("root full: %d bytes free", freeBytes(root))
	_, err = e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.podConfig("rootfull")})
	wantCode(t, "RunPodSandbox with the journal's disk full", err, codes.ResourceExhausted, "no space left on device")
	e.consistent()
	survivor()
	os.Remove(filler)
	e.servesOthers("after-rootfull")

	// The journal itself cannot grow. Host-network pods (whose only
	// writes under the root are the journal's) are run and removed until
	// an append fails: bbolt first reuses the pages it freed, so it takes
	// a while. Then a container is stopped while its exit cannot be
	// journaled: once there is room again, the exit must be there.
	_, survivorCtr := e.runSleeper(ctx, "journalfull")
	filler = fill(t, root, 0)
	var jerr error
	for i := 0; i < 2000 && jerr == nil; i++ {
		cfg := e.podConfig(fmt.Sprintf("grow%d", i))
		cfg.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}
		p, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
		if err != nil {
			jerr = err
			break
		}
		_, jerr = e.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.PodSandboxId})
		if i%100 == 99 {
			t.Logf("%d pods run and removed on a full disk", i+1)
		}
	}
	wantCode(t, "the journal's appends on a full disk", jerr, codes.ResourceExhausted, "journal", "no space left on device")
	_, err = e.d.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: survivorCtr, Timeout: 0})
	wantCode(t, "StopContainer while the journal cannot grow", err, codes.ResourceExhausted, "exit cannot be journaled", "no space left on device")
	os.Remove(filler)
	poll(t, "the exit journaled once there is room", 60*time.Second, func() error {
		st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: survivorCtr})
		if err != nil {
			return err
		}
		if s := st.GetStatus(); s.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			return fmt.Errorf("the stopped container is %v", s.GetState())
		}
		return nil
	})
	e.consistent()
	survivor()

	// The state directory full: the pod's files cannot be written; it is
	// rolled back.
	filler = fill(t, state, 0)
	_, err = e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.podConfig("statefull")})
	wantCode(t, "RunPodSandbox with the state directory full", err, codes.ResourceExhausted, "no space left on device")
	os.Remove(filler)
	e.consistent()
	survivor()
	e.servesOthers("after-statefull")
}
