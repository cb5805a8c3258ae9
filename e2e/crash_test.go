package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestCrashLoop kills logbookd with SIGKILL at random points of a
// create/start/stop/remove workload (and while containers exit on their
// own, some while the daemon is down), restarts it, and checks after every
// restart that each container's status is right (state agreeing with runc,
// the exit code a container exited with, never an unknown exit) and that
// nothing of a removed or rolled back object is left.
func TestCrashLoop(t *testing.T) {
	e := newEnv(t, "lbcrash1", 233)
	d := e.start()
	if _, err := d.img.PullImage(context.Background(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}}); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LOGBOOK_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (LOGBOOK_CRASH_SEED reproduces a run)", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	m := &model{ctrs: map[string]*expect{}, pods: map[string]bool{}}
	rounds := 20
	if testing.Short() {
		rounds = 4
	}
	for round := 0; round < rounds; round++ {
		w := &worker{e: e, m: m, rng: rand.New(rand.NewPCG(rng.Uint64(), uint64(round)))}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.run(ctx) }()
		time.Sleep(time.Duration(50+rng.IntN(700)) * time.Millisecond)
		e.kill()
		cancel()
		<-done
		// Containers go on exiting while the daemon is away.
		time.Sleep(time.Duration(rng.IntN(1200)) * time.Millisecond)
		e.start()
		t.Logf("round %d: %d operations (%d refused), SIGKILL during %q", round, w.ok, w.failed, w.inFlight())
		e.verify(m)
		if t.Failed() {
			t.Fatalf("round %d failed (seed %d)", round, seed)
		}
	}
}

// expect is what the test knows of a container.
type expect struct {
	pod       string
	short     bool  // exits on its own with code
	code      int32 //
	touched   bool  // a stop, a kill (pod stop) or a removal was asked, perhaps cut by the crash
	started   bool  // a start was asked
	uncertain bool  // its creation was cut by the crash: it may not exist
}

type model struct {
	mu   sync.Mutex
	ctrs map[string]*expect
	pods map[string]bool
	n    int
}

// worker runs random operations until its context ends (the daemon is
// killed under it).
type worker struct {
	e      *env
	m      *model
	rng    *rand.Rand
	ops    int  // operations tried
	ok     int  // and succeeded
	failed int  // refused (a precondition the model did not foresee)
	dead   bool // the daemon is gone: stop
	mu     sync.Mutex
	last   string
}

func (w *worker) inFlight() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *worker) run(ctx context.Context) {
	d := w.e.d
	for ctx.Err() == nil && !w.dead {
		w.m.mu.Lock()
		var ready, pods, toStart, toStop, all []string
		for id, ok := range w.m.pods {
			pods = append(pods, id)
			if ok {
				ready = append(ready, id)
			}
		}
		for id, x := range w.m.ctrs {
			all = append(all, id)
			switch {
			case !x.started && !x.touched:
				toStart = append(toStart, id)
			case x.started && !x.touched:
				toStop = append(toStop, id)
			}
		}
		w.m.mu.Unlock()
		pick := func(l []string) string { return l[w.rng.IntN(len(l))] }
		switch op := w.rng.IntN(12); {
		case len(ready) < 2 || op == 0:
			w.runPod(ctx, d)
		case op <= 3:
			w.create(ctx, d, pick(ready))
		case op <= 6 && len(toStart) > 0:
			w.start(ctx, d, pick(toStart))
		case op == 7 && len(toStop) > 0:
			id := pick(toStop)
			w.touch(id)
			w.call("StopContainer "+id, func() error {
				_, err := d.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: int64(w.rng.IntN(2))})
				return err
			})
		case op == 8 && len(all) > 0:
			id := pick(all)
			w.touch(id)
			if w.call("RemoveContainer "+id, func() error {
				_, err := d.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
				return err
			}) == nil {
				w.m.mu.Lock()
				delete(w.m.ctrs, id)
				w.m.mu.Unlock()
			}
		case op >= 10 && len(pods) > 2:
			pod := pick(pods)
			w.touchPod(pod)
			err := w.call("StopPodSandbox "+pod, func() error {
				_, err := d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
				return err
			})
			if err == nil {
				w.m.mu.Lock()
				w.m.pods[pod] = false
				w.m.mu.Unlock()
			}
			if err == nil && op == 11 && w.call("RemovePodSandbox "+pod, func() error {
				_, err := d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod})
				return err
			}) == nil {
				w.m.mu.Lock()
				delete(w.m.pods, pod)
				for id, x := range w.m.ctrs {
					if x.pod == pod {
						delete(w.m.ctrs, id)
					}
				}
				w.m.mu.Unlock()
			}
		}
	}
}

func (w *worker) call(what string, fn func() error) error {
	w.mu.Lock()
	w.last = what
	w.mu.Unlock()
	err := fn()
	w.ops++
	switch {
	case err == nil:
		w.ok++
	case status.Code(err) == codes.Unavailable || status.Code(err) == codes.Canceled:
		// The daemon died under this call: it is the one the crash cut.
		w.dead = true
	default:
		w.failed++
	}
	if !w.dead {
		w.mu.Lock()
		w.last = ""
		w.mu.Unlock()
	}
	return err
}

func (w *worker) touch(id string) {
	w.m.mu.Lock()
	if x := w.m.ctrs[id]; x != nil {
		x.touched = true
	}
	w.m.mu.Unlock()
}

func (w *worker) touchPod(pod string) {
	w.m.mu.Lock()
	for _, x := range w.m.ctrs {
		if x.pod == pod {
			x.touched = true
		}
	}
	w.m.mu.Unlock()
}

func (w *worker) runPod(ctx context.Context, d *daemon) {
	cfg := w.e.podConfig("crash")
	var id string
	if w.call("RunPodSandbox", func() error {
		r, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
		id = r.GetPodSandboxId()
		return err
	}) == nil {
		w.m.mu.Lock()
		w.m.pods[id] = true
		w.m.mu.Unlock()
	}
}

func (w *worker) create(ctx context.Context, d *daemon, pod string) {
	w.m.mu.Lock()
	w.m.n++
	n := w.m.n
	w.m.mu.Unlock()
	x := &expect{pod: pod, short: w.rng.IntN(2) == 0}
	var cfg *runtimeapi.ContainerConfig
	if x.short {
		x.code = int32(1 + w.rng.IntN(100))
		cfg = containerConfig(fmt.Sprintf("short%d", n), "sh", "-c", fmt.Sprintf("sleep 0.%d; exit %d", 1+w.rng.IntN(9), x.code))
	} else {
		cfg = containerConfig(fmt.Sprintf("long%d", n), "sleep", "1000")
	}
	var id string
	if w.call("CreateContainer", func() error {
		r, err := d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg})
		id = r.GetContainerId()
		return err
	}) == nil {
		w.m.mu.Lock()
		w.m.ctrs[id] = x
		w.m.mu.Unlock()
	}
}

func (w *worker) start(ctx context.Context, d *daemon, id string) {
	w.m.mu.Lock()
	if x := w.m.ctrs[id]; x != nil {
		x.started = true
	}
	w.m.mu.Unlock()
	w.call("StartContainer "+id, func() error {
		_, err := d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
		return err
	})
}

// runcStatus is runc's view of a container: its status, or "" when runc
// does not know it.
func (e *env) runcStatus(id string) (status string, pid int) {
	cmd := exec.Command("runc", "--root", filepath.Join(e.state, "runc"), "state", id)
	var out bytes.Buffer
	cmd.Stdout = &out
	if e.r.Run(cmd) != nil {
		return "", 0
	}
	var st struct {
		Status string `json:"status"`
		Pid    int    `json:"pid"`
	}
	json.Unmarshal(out.Bytes(), &st)
	return st.Status, st.Pid
}

// verify checks the daemon's view against the model and the node after a
// restart. States may still move (a container exiting now), so each check
// is retried until it holds or a deadline passes.
func (e *env) verify(m *model) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	m.mu.Lock()
	defer m.mu.Unlock()
	poll(t, "the daemon's view and runc's to agree", 20*time.Second, func() error {
		ctrs, err := e.d.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
		if err != nil {
			return err
		}
		pods, err := e.d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			return err
		}
		for _, p := range pods.GetItems() {
			status, _ := e.runcStatus(p.GetId())
			switch p.GetState() {
			case runtimeapi.PodSandboxState_SANDBOX_READY:
				if status != "running" {
					return fmt.Errorf("pod %s is ready but its infra is %q", p.GetId(), status)
				}
			default:
				if status != "" {
					return fmt.Errorf("pod %s is not ready but runc has its infra %q", p.GetId(), status)
				}
			}
		}
		for _, c := range ctrs.GetContainers() {
			status, _ := e.runcStatus(c.GetId())
			want := map[runtimeapi.ContainerState]string{
				runtimeapi.ContainerState_CONTAINER_CREATED: "created",
				runtimeapi.ContainerState_CONTAINER_RUNNING: "running",
				runtimeapi.ContainerState_CONTAINER_EXITED:  "",
			}[c.GetState()]
			if status != want {
				return fmt.Errorf("container %s is %s but runc says %q", c.GetId(), c.GetState(), status)
			}
		}
		return nil
	})

	ctrs, err := e.d.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	live := map[string]bool{}    // journal objects: their files may stay
	running := map[string]bool{} // created, running, ready: processes and cgroups too
	for _, c := range ctrs.GetContainers() {
		listed[c.GetId()] = true
		live[c.GetId()] = true
		if c.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			running[c.GetId()] = true
		}
		st, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.GetId()})
		if err != nil {
			t.Errorf("status of %s: %v", c.GetId(), err)
			continue
		}
		s := st.GetStatus()
		x := m.ctrs[c.GetId()]
		if x == nil {
			// Created by a call the crash cut: it exists, so it is known now.
			x = &expect{pod: c.GetPodSandboxId(), touched: true, uncertain: true}
			m.ctrs[c.GetId()] = x
		}
		if s.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			continue
		}
		if s.GetReason() == "Unknown" || s.GetExitCode() == 255 {
			t.Errorf("container %s: an unknown exit (%d %s: %s) though no shim was killed", s.GetId(), s.GetExitCode(), s.GetReason(), s.GetMessage())
		}
		if s.GetStartedAt() != 0 && s.GetFinishedAt() < s.GetStartedAt() {
			t.Errorf("container %s finished (%d) before it started (%d)", s.GetId(), s.GetFinishedAt(), s.GetStartedAt())
		}
		switch {
		case x.short && !x.touched && s.GetStartedAt() != 0:
			if s.GetExitCode() != x.code || s.GetReason() != "Error" {
				t.Errorf("container %s exited on its own with %d, but reports %d %q", s.GetId(), x.code, s.GetExitCode(), s.GetReason())
			}
		case !x.short && !x.touched && !x.uncertain:
			t.Errorf("container %s (sleep 1000) exited (%d %s) though nothing stopped it", s.GetId(), s.GetExitCode(), s.GetReason())
		case !x.touched && !x.started && !x.uncertain:
			t.Errorf("container %s exited (%d %s) though it was neither started nor stopped", s.GetId(), s.GetExitCode(), s.GetReason())
		case x.touched && s.GetStartedAt() != 0 && !x.short:
			if c := s.GetExitCode(); c != 137 && c != 143 {
				t.Errorf("stopped container %s: exit %d %s", s.GetId(), c, s.GetReason())
			}
		}
	}
	for id, x := range m.ctrs {
		if !listed[id] && !x.touched {
			t.Errorf("container %s vanished though nothing removed it", id)
		}
		if !listed[id] {
			delete(m.ctrs, id)
		}
	}
	pods, err := e.d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	podListed := map[string]bool{}
	for _, p := range pods.GetItems() {
		live[p.GetId()] = true
		if p.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			running[p.GetId()] = true
		}
		podListed[p.GetId()] = true
		// A pod made by a RunPodSandbox the crash cut is adopted.
		m.pods[p.GetId()] = p.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY
	}
	for id := range m.pods {
		if !podListed[id] {
			delete(m.pods, id)
		}
	}
	// Nothing of anything else. Exited containers keep their files until
	// removed; runc forgets them as the check above waited for.
	poll(t, "no leaks", 10*time.Second, func() error { return e.leaks(live, running) })
}

// leaks is checkClean as an error, for polling: files of objects not in
// live, and processes (shims) or cgroups of objects not in running.
func (e *env) leaks(live, running map[string]bool) error {
	var found []string
	for _, ctrl := range []string{"memory", "pids", "freezer"} {
		for _, id := range listDir(filepath.Join("/sys/fs/cgroup", ctrl, "logbook")) {
			if len(id) == 64 && !running[id] && e.ours(id) {
				found = append(found, "cgroup:"+ctrl+"/"+id)
			}
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, p := range ents {
		cmdline, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(e.state+"/shims/")) {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + p.Name() + "/stat")
		if f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:]); len(f) > 0 && string(f[0]) == "Z" {
			continue
		}
		args := bytes.Split(cmdline, []byte{0})
		for i := range args {
			if string(args[i]) == "-id" && i+1 < len(args) && !running[string(args[i+1])] {
				found = append(found, "shim:"+string(args[i+1]))
			}
		}
	}
	for _, d := range []string{filepath.Join(e.state, "shims"), filepath.Join(e.state, "bundles"),
		filepath.Join(e.state, "netns"), filepath.Join(e.state, "sandboxes"), filepath.Join(e.root, "containers")} {
		for _, id := range listDir(d) {
			if !live[id] {
				found = append(found, d+"/"+id)
			}
		}
	}
	runcList := exec.Command("runc", "--root", filepath.Join(e.state, "runc"), "list", "-q")
	var out bytes.Buffer
	runcList.Stdout = &out
	e.r.Run(runcList)
	for _, id := range bytes.Fields(out.Bytes()) {
		if !live[string(id)] {
			found = append(found, "runc:"+string(id))
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range bytes.Split(mounts, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := string(f[4])
		if !bytes.HasPrefix(f[4], []byte(e.state+"/")) && !bytes.HasPrefix(f[4], []byte(e.root+"/")) {
			continue
		}
		owned := false
		for id := range live {
			if bytes.Contains(f[4], []byte(id)) {
				owned = true
			}
		}
		if !owned {
			found = append(found, "mount:"+mp)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("leaked: %v", found)
	}
	return nil
}
