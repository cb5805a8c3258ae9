package container_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/container"
	"github.com/logbook-cri/logbook/runtime/container/containertest"
	"github.com/logbook-cri/logbook/runtime/shim"
)

func TestMain(m *testing.M) { containertest.Main(m) }

// logLines is the text of the full stdout (or stderr) lines of a CRI log.
func logLines(t *testing.T, path string, stream shim.Stream) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	var cur []byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		e, err := shim.ParseLogEntry(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if e.Stream != stream {
			continue
		}
		cur = append(cur, e.Message...)
		if !e.Partial {
			out = append(out, string(cur))
			cur = nil
		}
	}
	return out
}

func waitLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(logLines(t, path, shim.Stdout), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q; it has %q", path, want, logLines(t, path, shim.Stdout))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// history is the journal's events for one container, in order.
func history(t *testing.T, e *containertest.Env, id string) []string {
	t.Helper()
	var out []string
	err := journalEach(e, func(r journal.Record) {
		if r.ContainerID == id {
			out = append(out, r.Type)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func journalEach(e *containertest.Env, fn func(journal.Record)) error {
	return e.Journal.Read(context.Background(), 0, 0, func(r journal.Record) error {
		fn(r)
		return nil
	})
}

// TestLifecycle: create, start, stop, remove one container, checking the
// projection, the log and the node at each step.
func TestLifecycle(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("life"))
	// TERM ignored (inherited by the exec'd sleep): the stop must kill.
	cfg := e.ContainerConfig("app", "sh", "-c", `trap "" TERM; echo hello from $(hostname); id -u; exec sleep 1000`)
	cfg.Labels = map[string]string{"l": "v"}
	id := e.Create(sb, cfg)

	c, ok := e.Store.Container(id)
	if !ok || c.State != projector.ContainerCreated || c.Pid == 0 || c.ImageID != e.ImageID {
		t.Fatalf("after create: %+v", c)
	}
	if c.LogPath != filepath.Join(mustSandbox(t, e, sb).Config.GetLogDirectory(), "app.log") {
		t.Errorf("log path %q", c.LogPath)
	}
	if u := c.User.GetLinux(); u.GetUid() != 0 || u.GetGid() != 0 {
		t.Errorf("user %v", c.User)
	}
	if c.StopSignal != runtimeapi.Signal_SIGNAL_SIGTERM {
		t.Errorf("stop signal %v, want SIGTERM (image has none)", c.StopSignal)
	}
	if c.ImageRef == "" || !strings.Contains(c.ImageRef, "@sha256:") {
		t.Errorf("image ref %q", c.ImageRef)
	}
	if ok, _ := runtime.Mounted(e.Layout.Rootfs(id)); !ok {
		t.Error("rootfs not mounted")
	}

	e.Start(id)
	c, _ = e.Store.Container(id)
	if c.State != projector.ContainerRunning || c.StartedAt == 0 {
		t.Fatalf("after start: %+v", c)
	}
	waitLog(t, c.LogPath, "hello from life")
	waitLog(t, c.LogPath, "0")
	if err := e.Containers.StartContainer(ctx, id); !errors.Is(err, runtime.ErrFailedPrecondition) {
		t.Errorf("second start: %v", err)
	}

	// The stop waits the grace period, then kills.
	start := time.Now()
	if err := e.Containers.StopContainer(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	c, _ = e.Store.Container(id)
	if c.State != projector.ContainerExited || c.ExitCode != 137 || c.CRIReason() != container.ReasonError || c.FinishedAt == 0 {
		t.Fatalf("after stop: %+v", c)
	}
	if took < time.Second || took > 10*time.Second {
		t.Errorf("stop took %v, want the 1 s grace then a kill", took)
	}
	if err := e.Containers.StopContainer(ctx, id, 10); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if _, err := e.Runc.State(ctx, id); err == nil {
		t.Error("runc still knows the exited container")
	}
	if ok, _ := runtime.Mounted(e.Layout.Rootfs(id)); ok {
		t.Error("the exited container's rootfs is still mounted")
	}

	if err := e.Containers.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Store.Container(id); ok {
		t.Fatal("removed container visible")
	}
	for _, p := range []string{e.Layout.Bundle(id), e.Layout.ShimDir(id), e.Layout.ContainerDir(id)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left", p)
		}
	}
	if _, err := os.Stat(c.LogPath); err != nil {
		t.Errorf("the log is the kubelet's and stays: %v", err)
	}
	if err := e.Containers.RemoveContainer(ctx, id); err != nil {
		t.Errorf("second remove: %v", err)
	}
	want := []string{"container.creating", "container.created", "container.started", "container.exited", "container.removed"}
	if got := history(t, e, id); !slices.Equal(got, want) {
		t.Errorf("journal %v, want %v", got, want)
	}
	// The same name can be created again.
	e.Create(sb, cfg)
}

func mustSandbox(t *testing.T, e *containertest.Env, id string) *projector.Sandbox {
	t.Helper()
	sb, ok := e.Store.Sandbox(id)
	if !ok {
		t.Fatalf("no sandbox %s", id)
	}
	return sb
}

// TestExits: exit codes and reasons of containers that end on their own,
// and the OOM verdict.
func TestExits(t *testing.T) {
	e := containertest.New(t)
	sb := e.RunPod(e.PodConfig("exits"))
	cases := []struct {
		name   string
		cmd    []string
		mem    int64
		code   int32
		reason string
	}{
		{"zero", []string{"true"}, 0, 0, "Completed"},
		{"three", []string{"sh", "-c", "exit 3"}, 0, 3, "Error"},
		{"killed", []string{"sh", "-c", "kill -9 $$"}, 0, 137, "Error"},
		{"oom", []string{"sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M"}, 16 << 20, 137, "OOMKilled"},
	}
	ids := map[string]string{}
	for _, tc := range cases {
		cfg := e.ContainerConfig(tc.name, tc.cmd...)
		if tc.mem > 0 {
			cfg.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: tc.mem, MemorySwapLimitInBytes: tc.mem}
		}
		ids[tc.name] = e.Create(sb, cfg)
		e.Start(ids[tc.name])
	}
	for _, tc := range cases {
		c := e.Exited(ids[tc.name], 30*time.Second)
		if c.ExitCode != tc.code || c.CRIReason() != tc.reason || c.FinishedAt < c.StartedAt {
			t.Errorf("%s: exit %d %q (finished %d, started %d), want %d %q", tc.name, c.ExitCode, c.CRIReason(), c.FinishedAt, c.StartedAt, tc.code, tc.reason)
		}
	}
}

// TestCreateRefusals: requests refused before anything is journaled, and
// failures after the intent that roll back completely.
func TestCreateRefusals(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("refuse"))
	seq := e.Store.Seq()

	escape := e.ContainerConfig("escape", "true")
	escape.LogPath = "../../etc/evil.log"
	if _, err := e.Containers.CreateContainer(ctx, sb, escape); !errors.Is(err, runtime.ErrInvalidArgument) || !errors.Is(err, container.ErrLogPathEscape) {
		t.Errorf("log path escape: %v", err)
	}
	noImage := e.ContainerConfig("noimage", "true")
	noImage.Image.Image = "nosuch.invalid/image:1"
	if _, err := e.Containers.CreateContainer(ctx, sb, noImage); !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "nosuch.invalid/image:1") {
		t.Errorf("missing image: %v", err)
	}
	if _, err := e.Containers.CreateContainer(ctx, runtime.NewID(), e.ContainerConfig("x", "true")); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing sandbox: %v", err)
	}
	group := e.ContainerConfig("group", "true")
	group.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{RunAsGroup: &runtimeapi.Int64Value{Value: 5}}
	if _, err := e.Containers.CreateContainer(ctx, sb, group); err == nil {
		t.Error("run_as_group without a user accepted")
	}
	priv := e.ContainerConfig("priv", "true")
	priv.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{Privileged: true}
	if _, err := e.Containers.CreateContainer(ctx, sb, priv); err == nil {
		t.Error("privileged container in an unprivileged pod accepted")
	}
	bidir := e.ContainerConfig("bidir", "true")
	bidir.Mounts = []*runtimeapi.Mount{{HostPath: t.TempDir(), ContainerPath: "/mnt", Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL}}
	if _, err := e.Containers.CreateContainer(ctx, sb, bidir); !errors.Is(err, container.ErrPropagation) {
		t.Errorf("bidirectional from a private mount: %v", err)
	}
	if e.Store.Seq() != seq {
		t.Errorf("refused requests journaled %d events", e.Store.Seq()-seq)
	}

	// Known only once the rootfs is mounted: an unknown user name. The
	// creation is rolled back.
	user := e.ContainerConfig("user", "true")
	user.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "nobody-here"}
	if _, err := e.Containers.CreateContainer(ctx, sb, user); err == nil || !strings.Contains(err.Error(), "nobody-here") {
		t.Errorf("unknown user: %v", err)
	}
	// runc refuses a missing binary at create: rolled back too.
	if _, err := e.Containers.CreateContainer(ctx, sb, e.ContainerConfig("nobin", "/no/such/binary")); err == nil {
		t.Error("missing binary accepted")
	}
	if got := len(e.Store.ContainersOf(sb)); got != 0 {
		t.Errorf("%d containers visible after failed creations", got)
	}
	for _, d := range []string{"bundles", "shims"} {
		if left := runtime.DirNames(filepath.Join(e.Layout.State, d)); len(left) != 1 { // the infra's
			t.Errorf("%s: %v", d, left)
		}
	}
	if left := runtime.DirNames(filepath.Join(e.Layout.Root, "containers")); len(left) != 0 {
		t.Errorf("writable layers left: %v", left)
	}

	// Not in a stopped sandbox.
	if err := e.Sandboxes.StopPodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Containers.CreateContainer(ctx, sb, e.ContainerConfig("late", "true")); !errors.Is(err, runtime.ErrFailedPrecondition) {
		t.Errorf("create in a stopped sandbox: %v", err)
	}
	// Idempotence of unknown IDs.
	if err := e.Containers.StopContainer(ctx, runtime.NewID(), 0); err != nil {
		t.Error(err)
	}
	if err := e.Containers.RemoveContainer(ctx, runtime.NewID()); err != nil {
		t.Error(err)
	}
	if err := e.Containers.StartContainer(ctx, runtime.NewID()); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("start unknown: %v", err)
	}
}

// TestStartError: a start that fails is an exit with code 128 and reason
// StartError, and the container can be removed.
func TestStartError(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("starterr"))
	id := e.Create(sb, e.ContainerConfig("c", "sleep", "100"))
	// runc cannot find the container for a moment: its start fails.
	state := filepath.Join(e.Layout.RuncRoot(), id)
	if err := os.Rename(state, state+".hidden"); err != nil {
		t.Fatal(err)
	}
	err := e.Containers.StartContainer(ctx, id)
	os.Rename(state+".hidden", state)
	if err == nil {
		t.Fatal("start succeeded")
	}
	c := e.Exited(id, 10*time.Second)
	if c.ExitCode != container.StartErrorCode || c.Reason != container.ReasonStartError || c.StartedAt != 0 {
		t.Fatalf("%+v", c)
	}
	if err := e.Containers.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	want := []string{"container.creating", "container.created", "container.exited", "container.removed"}
	if got := history(t, e, id); !slices.Equal(got, want) {
		t.Errorf("journal %v, want %v", got, want)
	}
}

// TestStopSignalAndRunningRemove: the image's STOPSIGNAL is used, a
// created container is stopped at once, and a running one is removed.
func TestStopSignalAndRunningRemove(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	e.PushImage("test.logbook.invalid/usr1:1", func(c *v1.Config) { c.StopSignal = "SIGUSR1" })
	sb := e.RunPod(e.PodConfig("signals"))
	cfg := e.ContainerConfig("trap", "sh", "-c", `trap "exit 7" USR1; echo ready; while true; do sleep 0.1; done`)
	cfg.Image.Image = "test.logbook.invalid/usr1:1"
	id := e.Create(sb, cfg)
	c, _ := e.Store.Container(id)
	if c.StopSignal != runtimeapi.Signal_SIGNAL_SIGUSR1 {
		t.Errorf("stop signal %v", c.StopSignal)
	}
	e.Start(id)
	waitLog(t, c.LogPath, "ready")
	if err := e.Containers.StopContainer(ctx, id, 30); err != nil {
		t.Fatal(err)
	}
	if c, _ = e.Store.Container(id); c.ExitCode != 7 {
		t.Errorf("exit %d, want 7 from the USR1 trap", c.ExitCode)
	}

	created := e.Create(sb, e.ContainerConfig("created", "sleep", "1000"))
	if err := e.Containers.StopContainer(ctx, created, 30); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.Store.Container(created); c.State != projector.ContainerExited || c.StartedAt != 0 {
		t.Errorf("stopped before start: %+v", c)
	}

	running := e.Create(sb, e.ContainerConfig("running", "sleep", "1000"))
	e.Start(running)
	if err := e.Containers.RemoveContainer(ctx, running); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Store.Container(running); ok {
		t.Error("running container not removed")
	}
}

// TestMountsAndUser: a symlinked host path is mounted as its target, a
// missing one is created, the user is resolved from the image's files
// with the image's groups merged, and a read-only rootfs refuses writes.
func TestMountsAndUser(t *testing.T) {
	e := containertest.New(t)
	sb := e.RunPod(e.PodConfig("mounts"))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), []byte("content"), 0o644)
	link := dir + "-symlink"
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(link) })
	missing := filepath.Join(t.TempDir(), "a", "b")
	cfg := e.ContainerConfig("m", "sh", "-c", "cat /data/file; echo; ls -d /new; id -u; id -G; touch /rootfile || echo read-only")
	cfg.Mounts = []*runtimeapi.Mount{
		{HostPath: link, ContainerPath: "/data", Readonly: true},
		{HostPath: missing, ContainerPath: "/new"},
	}
	cfg.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{
		RunAsUsername: "default-user", SupplementalGroups: []int64{1234}, ReadonlyRootfs: true,
	}
	id := e.Create(sb, cfg)
	c, _ := e.Store.Container(id)
	if u := c.User.GetLinux(); u.GetUid() != 1000 || u.GetGid() != 1000 || !slices.Equal(u.GetSupplementalGroups(), []int64{1000, 1234, 50000}) {
		t.Errorf("user %v", c.User)
	}
	if len(c.Mounts) != 2 || c.Mounts[0].HostPath != link {
		t.Errorf("mounts %v: the status reports them as requested", c.Mounts)
	}
	if st, err := os.Stat(missing); err != nil || !st.IsDir() {
		t.Errorf("missing host path not created: %v", err)
	}
	e.Start(id)
	e.Exited(id, 10*time.Second)
	got := logLines(t, c.LogPath, shim.Stdout)
	want := []string{"content", "/new", "1000", "1000 1234 50000", "read-only"}
	if !slices.Equal(got, want) {
		t.Errorf("output %q, want %q", got, want)
	}
}

// TestReopenAndUpdate: ReopenContainerLog after a rotation, and
// UpdateContainerResources reaching the cgroup and the status.
func TestReopenAndUpdate(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("reopen"))
	id := e.Create(sb, e.ContainerConfig("loop", "sh", "-c", "while true; do echo tick; sleep 0.05; done"))
	if err := e.Containers.ReopenContainerLog(ctx, id); !errors.Is(err, runtime.ErrFailedPrecondition) {
		t.Errorf("reopen before start: %v", err)
	}
	e.Start(id)
	c, _ := e.Store.Container(id)
	waitLog(t, c.LogPath, "tick")
	if err := os.Rename(c.LogPath, c.LogPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := e.Containers.ReopenContainerLog(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.LogPath); err != nil {
		t.Fatalf("no log file when the reopen returned: %v", err)
	}
	waitLog(t, c.LogPath, "tick")

	if err := e.Containers.UpdateContainerResources(ctx, id, &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 20000}); err != nil {
		t.Fatal(err)
	}
	quota, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", containertest.CgroupParent, id, "cpu.cfs_quota_us"))
	if strings.TrimSpace(string(quota)) != "20000" {
		t.Errorf("cpu.cfs_quota_us %q", quota)
	}
	if c, _ := e.Store.Container(id); c.CRIStatus().GetResources().GetLinux().GetCpuQuota() != 20000 {
		t.Errorf("status resources %v", c.Resources)
	}
}

// TestPodStopKillsContainers: stopping the pod kills its containers at
// once and journals each exit before the sandbox's stop; removing it
// removes them.
func TestPodStopKillsContainers(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("pod"))
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		id := e.Create(sb, e.ContainerConfig(n, "sleep", "1000"))
		if n != "c" {
			e.Start(id)
		}
		ids = append(ids, id)
	}
	start := time.Now()
	if err := e.Sandboxes.StopPodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("pod stop took %v", took)
	}
	for _, id := range ids {
		if c, _ := e.Store.Container(id); c.State != projector.ContainerExited {
			t.Errorf("%s: %s", id, c.State)
		}
	}
	if err := e.Sandboxes.RemovePodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, ok := e.Store.Container(id); ok {
			t.Errorf("%s survived its pod", id)
		}
	}
}

// TestRaces: containers that exit as they are stopped or removed, many at
// once, never get a second exit event or a start after their exit.
func TestRaces(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("races"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := e.ContainerConfig("r"+containertest.UID(), "true")
			id, err := e.Containers.CreateContainer(ctx, sb, cfg)
			if err != nil {
				errs <- err
				return
			}
			if err := e.Containers.StartContainer(ctx, id); err != nil {
				errs <- err
				return
			}
			if i%2 == 0 {
				if err := e.Containers.StopContainer(ctx, id, 0); err != nil {
					errs <- err
				}
			}
			if err := e.Containers.RemoveContainer(ctx, id); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	perContainer := map[string][]string{}
	journalEach(e, func(r journal.Record) {
		if r.ContainerID != "" && r.Type != string(events.ContainerOOMType) {
			perContainer[r.ContainerID] = append(perContainer[r.ContainerID], r.Type)
		}
	})
	want := []string{"container.creating", "container.created", "container.started", "container.exited", "container.removed"}
	for id, h := range perContainer {
		if !slices.Equal(h, want) {
			t.Errorf("%s: %v", id, h)
		}
	}
	if e.Store.Skipped() != 0 {
		t.Errorf("the projection refused %d events", e.Store.Skipped())
	}
}

// TestRecovery: across a daemon crash, a running container is monitored
// again, one that exited meanwhile gets its real exit (code, time, OOM
// verdict), a created one can still be started, an interrupted creation
// is rolled back, leaks are removed, and everything can be removed.
func TestRecovery(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("recover"))
	running := e.Create(sb, e.ContainerConfig("running", "sleep", "1000"))
	e.Start(running)
	exits := e.Create(sb, e.ContainerConfig("exits", "sh", "-c", "sleep 0.3; exit 42"))
	oomed := e.Create(sb, func() *runtimeapi.ContainerConfig {
		c := e.ContainerConfig("oomed", "sh", "-c", "sleep 0.3; dd if=/dev/zero of=/dev/null bs=64M")
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 16 << 20, MemorySwapLimitInBytes: 16 << 20}
		return c
	}())
	created := e.Create(sb, e.ContainerConfig("created", "sh", "-c", "echo late start"))

	// An interrupted CreateContainer: the intent and a writable layer.
	half := runtime.NewID()
	if _, err := e.Recorder.Record(ctx, runtime.Event{SandboxID: sb, ContainerID: half, Payload: &events.ContainerCreating{
		Config: e.ContainerConfig("half", "true"), ImageId: e.ImageID}}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(e.Layout.ContainerDir(half), "upper"), 0o755)
	// Leaks: a writable layer and a bundle nobody owns.
	leak := runtime.NewID()
	os.MkdirAll(e.Layout.ContainerDir(leak), 0o755)
	os.MkdirAll(e.Layout.Rootfs(leak), 0o755)

	e.Start(exits)
	e.Start(oomed)
	startedAt := time.Now()
	e.Crash()
	// Both end while the daemon is away.
	waitFile(t, filepath.Join(e.Layout.ShimDir(exits), shim.ExitFileName))
	waitFile(t, filepath.Join(e.Layout.ShimDir(oomed), shim.ExitFileName))
	e.Restart()

	c, _ := e.Store.Container(exits)
	if c.State != projector.ContainerExited || c.ExitCode != 42 || c.CRIReason() != "Error" {
		t.Errorf("exited while away: %+v", c)
	}
	if at := time.Unix(0, c.FinishedAt); at.Before(startedAt) || time.Since(at) < 0 {
		t.Errorf("finished at %v, started at %v: not the recorded time", at, startedAt)
	}
	if c, _ := e.Store.Container(oomed); c.ExitCode != 137 || c.CRIReason() != "OOMKilled" {
		t.Errorf("OOM-killed while away: %+v", c)
	}
	if _, ok := e.Store.Container(half); ok || !e.Store.IDUsed(half) {
		t.Error("interrupted creation not rolled back")
	}
	for _, p := range []string{e.Layout.ContainerDir(half), e.Layout.ContainerDir(leak), e.Layout.Bundle(leak)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left", p)
		}
	}
	if c, _ := e.Store.Container(running); c.State != projector.ContainerRunning {
		t.Errorf("running container after restart: %+v", c)
	}
	// The recovered monitor sees a kill.
	if err := e.Containers.StopContainer(ctx, running, 0); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.Store.Container(running); c.ExitCode != 137 {
		t.Errorf("stopped after restart: %+v", c)
	}
	e.Start(created)
	c = e.Exited(created, 10*time.Second)
	waitLog(t, c.LogPath, "late start")
	if e.Store.Skipped() != 0 {
		t.Errorf("the projection refused %d events", e.Store.Skipped())
	}
	for _, id := range []string{running, exits, oomed, created} {
		if err := e.Containers.RemoveContainer(ctx, id); err != nil {
			t.Errorf("remove %s: %v", id, err)
		}
	}
}

// TestRecoveryWithoutExitRecord: a container whose shim was killed (no exit
// record) is ended and reported with exit code 255 and reason Unknown.
func TestRecoveryWithoutExitRecord(t *testing.T) {
	e := containertest.New(t)
	sb := e.RunPod(e.PodConfig("noexit"))
	id := e.Create(sb, e.ContainerConfig("c", "sleep", "1000"))
	e.Start(id)
	e.Crash()
	b, err := os.ReadFile(filepath.Join(e.Layout.ShimDir(id), shim.PidFileName))
	if err != nil {
		t.Fatal(err)
	}
	var ident shim.Identity
	if err := ident.UnmarshalText(b); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(ident.Pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for shim.VerifyProcess("/proc", ident) == nil {
		containertest.ReapOrphans()
		if time.Now().After(deadline) {
			t.Fatal("shim did not die")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Restart()
	c := e.Exited(id, 10*time.Second)
	if c.ExitCode != container.UnknownExitCode || c.Reason != container.ReasonUnknown || c.Message == "" {
		t.Errorf("%+v", c)
	}
	if _, err := e.Runc.State(context.Background(), id); err == nil {
		t.Error("the orphaned container is still known to runc")
	}
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecoveryStartedWhileAway: a container runc started but whose start
// the daemon did not live to journal is Running after recovery.
func TestRecoveryStartedWhileAway(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("cut"))
	id := e.Create(sb, e.ContainerConfig("c", "sleep", "1000"))
	e.Crash()
	if err := e.Runc.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	e.Restart()
	c, _ := e.Store.Container(id)
	if c.State != projector.ContainerRunning || c.StartedAt == 0 {
		t.Fatalf("%+v", c)
	}
	if err := e.Containers.StopContainer(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.Store.Container(id); c.ExitCode != 137 || c.FinishedAt < c.StartedAt {
		t.Errorf("%+v", c)
	}
}

// TestCleanLeaksCgroups: the leak scan removes a cgroup named after an ID
// this daemon's journal has seen, and leaves alone one it has not (another
// daemon's, sharing the hierarchy).
func TestCleanLeaksCgroups(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("cg"))
	gone := e.Create(sb, e.ContainerConfig("c", "true"))
	if err := e.Containers.RemoveContainer(ctx, gone); err != nil {
		t.Fatal(err)
	}
	foreign := runtime.NewID()
	dir := func(id string) string { return filepath.Join("/sys/fs/cgroup/pids", containertest.CgroupParent, id) }
	for _, id := range []string{gone, foreign} {
		if err := os.Mkdir(dir(id), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Remove(dir(foreign)) })
	e.Restart()
	if _, err := os.Stat(dir(gone)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the leaked cgroup of %s is still there: %v", gone, err)
	}
	if _, err := os.Stat(dir(foreign)); err != nil {
		t.Errorf("a foreign cgroup was removed: %v", err)
	}
}
