package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/hack/chaos/rig"
)

// callTimeout bounds every call: a call that takes longer is a hung
// daemon, a violation.
const callTimeout = 2 * time.Minute

// driver is one chaos run: the model, the world, the event follower and
// the tally.
type driver struct {
	o   options
	w   *rig.World
	f   *rig.Follower
	rng *rand.Rand // the main goroutine's; each worker has its own
	// rt is the daemon of the current round, set before its workers
	// start (a killed daemon's calls fail on its closed connection).
	rt      runtimeapi.RuntimeServiceClient
	img     runtimeapi.ImageServiceClient
	roundNo int

	mu   sync.Mutex // guards everything below
	pods []*pod
	// images are pulled and removed beside busybox (which is never
	// removed): one shares busybox's base layer, one shares nothing, so
	// a removal's garbage collection must keep the one and drop the other.
	images []*img
	names  int
	// cut is the call each worker had in flight when the daemon died.
	cut        []string
	calls      int
	cuts       int
	exitsDown  int
	oomsDown   int
	firedUp    int
	execs      int
	events     int
	violations []string
}

func newDriver(o options, w *rig.World) *driver {
	return &driver{o: o, w: w, rng: rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15)),
		images: []*img{{ref: "gcr.io/k8s-staging-cri-tools/test-image-1:latest"}, {ref: "registry.k8s.io/pause:3.9"}}}
}

// violation records a broken promise of the daemon.
func (d *driver) violation(round int, format string, args ...any) {
	msg := fmt.Sprintf("round %d: ", round) + fmt.Sprintf(format, args...)
	d.mu.Lock()
	d.violations = append(d.violations, msg)
	d.mu.Unlock()
	fmt.Println("  VIOLATION", msg)
}

func (d *driver) run() int {
	start := time.Now()
	if err := d.w.Start(); err != nil {
		fmt.Println("chaos:", err)
		return 2
	}
	ctx := context.Background()
	if _, err := d.w.Img().PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: rig.Busybox}}); err != nil {
		fmt.Println("chaos: pull:", err)
		return 2
	}
	d.f = rig.Follow(d.w.Socket, false)
	defer d.f.Close()
	if err := waitStarted(d.f); err != nil {
		fmt.Println("chaos:", err)
		return 2
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	rounds := 0
loop:
	for r := 1; r <= d.o.rounds; r++ {
		if !d.round(r) {
			fmt.Printf("round %d: the daemon does not start again; stopping here\n", r)
			d.summary(rounds, time.Since(start))
			return 1
		}
		rounds = r
		select {
		case s := <-sig:
			fmt.Printf("chaos: %v: stopping after round %d\n", s, r)
			break loop
		default:
		}
	}
	d.finish(rounds + 1)
	d.summary(rounds, time.Since(start))
	if len(d.violations) > 0 {
		return 1
	}
	return 0
}

func waitStarted(f *rig.Follower) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, ok := f.Started(); ok {
			return nil
		}
	}
	return errors.New("the event follower could not subscribe")
}

// round runs load, kills the daemon at a random moment, lets containers
// exit while it is down, restarts it and checks everything. It returns
// false when the daemon cannot be started again.
func (d *driver) round(r int) bool {
	t0 := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	d.cut = make([]string, d.o.workers)
	d.rt, d.img, d.roundNo = d.w.RT(), d.w.Img(), r
	callsBefore := d.calls
	var wg sync.WaitGroup
	for i := range d.o.workers {
		rng := rand.New(rand.NewPCG(d.rng.Uint64(), uint64(r*100+i)))
		wg.Go(func() { d.work(ctx, i, rng) })
	}
	load := time.Duration(300+d.rng.IntN(3000)) * time.Millisecond
	split := time.Duration(d.rng.Int64N(int64(load)))
	time.Sleep(split)
	d.mu.Lock()
	d.firedUp += len(d.fireSome(d.rng.IntN(3), false))
	d.mu.Unlock()
	time.Sleep(load - split)

	if exited, err := d.w.Exited(); exited {
		d.violation(r, "logbookd exited on its own: %v (log %s)", err, d.w.LogPath())
	}
	d.w.Kill()
	cancel()
	wg.Wait()

	// While the daemon is down, triggered containers exit (some past
	// their memory limit); their shims record it.
	d.mu.Lock()
	fired := d.fireSome(1+d.rng.IntN(4), true)
	d.mu.Unlock()
	for _, c := range fired {
		exitFile := filepath.Join(d.w.State, "shims", c.id, "exit")
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := os.Stat(exitFile); err == nil {
				break
			}
			if time.Now().After(deadline) {
				d.violation(r, "container %s (%s) did not exit within 30s of its trigger while the daemon was down", c.name, c.kind)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(time.Duration(d.rng.IntN(800)) * time.Millisecond)
	if !d.restart(r) {
		return false
	}
	// One round in four, the daemon is killed again while it recovers
	// (or just after), and started once more.
	recoveryKill := ""
	if d.rng.IntN(4) == 0 {
		time.Sleep(time.Duration(d.rng.IntN(400)) * time.Millisecond)
		d.w.Kill()
		recoveryKill = ", killed again while recovering"
		if !d.restart(r) {
			return false
		}
	}
	d.mu.Lock()
	cut := slices.DeleteFunc(slices.Clone(d.cut), func(s string) bool { return s == "" })
	calls := d.calls - callsBefore
	d.mu.Unlock()
	bad := len(d.violations)
	checked := d.verify(r)
	verdict := "ok"
	if n := len(d.violations) - bad; n > 0 {
		verdict = fmt.Sprintf("%d VIOLATION(S)", n)
	}
	killedIn := "idle"
	if len(cut) > 0 {
		killedIn = strings.Join(cut, ", ")
	}
	fmt.Printf("round %d/%d: %d calls, SIGKILL during [%s]; %d exits while down%s; %s; %s (%.1fs)\n",
		r, d.o.rounds, calls, killedIn, len(fired), recoveryKill, checked, verdict, time.Since(t0).Seconds())
	return true
}

// restart starts the daemon again (a second try after two seconds); a
// failure is a violation and ends the run.
func (d *driver) restart(r int) bool {
	err := d.w.Start()
	if err == nil {
		return true
	}
	d.violation(r, "restart: %v", err)
	time.Sleep(2 * time.Second)
	if err := d.w.Start(); err != nil {
		d.violation(r, "restart, a second try: %v", err)
		return false
	}
	return true
}

// work runs random operations until ctx ends or a call is cut by the
// daemon's death.
func (d *driver) work(ctx context.Context, i int, rng *rand.Rand) {
	for ctx.Err() == nil {
		op := d.pick(rng)
		if op == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if what, cut := op(ctx); cut {
			d.mu.Lock()
			d.cut[i] = what
			d.mu.Unlock()
			return
		}
	}
}

// op performs one call; it reports the call and whether the daemon's
// death cut it.
type op func(ctx context.Context) (what string, cut bool)

// call makes a call with the bounded timeout and classifies its end: done,
// cut by the daemon's death (maybe), or refused (notAsked: the daemon
// promises a refused call changed nothing; the refusal is recorded).
func (d *driver) call(ctx context.Context, what string, fn func(context.Context) error) (outcome, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := fn(cctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	switch c := status.Code(err); {
	case err == nil:
		return done, nil
	case ctx.Err() != nil || c == codes.Unavailable || c == codes.Canceled:
		d.cuts++
		return maybe, err
	case cctx.Err() != nil:
		d.refusedLocked("%s hung for %v", what, callTimeout)
		return notAsked, err
	default:
		d.refusedLocked("%s refused: %v", what, err)
		return notAsked, err
	}
}

// refusedLocked records a call the daemon failed for no reason the model
// foresees (the driver asks only what the model says must work): a
// violation. d.mu is held.
func (d *driver) refusedLocked(format string, args ...any) {
	msg := fmt.Sprintf("round %d: ", d.roundNo) + fmt.Sprintf(format, args...)
	d.violations = append(d.violations, msg)
	fmt.Println("  VIOLATION", msg)
}

// livePods are the pods that exist or may (not removed).
func (d *driver) livePods() []*pod {
	var out []*pod
	for _, p := range d.pods {
		if p.run != notAsked && p.removed != done {
			out = append(out, p)
		}
	}
	return out
}

// pick chooses an operation on a pod no other worker is calling on, and
// claims it; the returned op releases it. d.mu is taken here.
func (d *driver) pick(rng *rand.Rand) op {
	d.mu.Lock()
	defer d.mu.Unlock()
	live := d.livePods()
	if len(live) < 2 || (len(live) < d.o.maxPods && rng.IntN(12) == 0) {
		return d.runPod()
	}
	if rng.IntN(15) == 0 {
		if i := d.images[rng.IntN(len(d.images))]; !i.busy {
			return d.imageOp(i)
		}
	}
	var free []*pod
	for _, p := range live {
		if !p.busy && p.run == done && p.removed == notAsked {
			free = append(free, p)
		}
	}
	if len(free) == 0 {
		return nil
	}
	p := free[rng.IntN(len(free))]
	if p.stopped != notAsked {
		return d.removePod(p)
	}
	var created, running, started, present []*ctr
	for _, c := range p.ctrs {
		if c.created != done || c.removed != notAsked {
			continue
		}
		present = append(present, c)
		switch {
		case c.started == notAsked && c.stopped == notAsked:
			created = append(created, c)
		case c.started == done && c.stopped == notAsked:
			started = append(started, c)
			if c.kind == long {
				running = append(running, c)
			}
		}
	}
	pickC := func(l []*ctr) *ctr { return l[rng.IntN(len(l))] }
	switch r := rng.IntN(20); {
	case r < 5 && len(present) < 4:
		return d.createCtr(p, rng)
	case r < 10 && len(created) > 0:
		return d.startCtr(pickC(created))
	case r < 12 && len(running) > 0:
		return d.execCtr(pickC(running), rng)
	case r < 14 && len(started) > 0:
		return d.stopCtr(pickC(started), rng)
	case r < 16 && len(present) > 0:
		return d.removeCtr(pickC(present))
	case r < 18 && len(live) > 2:
		return d.stopPod(p)
	case r < 19 && len(live) > 3:
		return d.removePod(p)
	case len(present) < 4:
		return d.createCtr(p, rng)
	}
	return nil
}

// cutCall reports a call as cut when its outcome is maybe.
func cutCall(what string, o outcome) (string, bool) { return what, o == maybe }

func (d *driver) runPod() op {
	d.names++
	p := &pod{name: fmt.Sprintf("p%d", d.names), run: maybe, busy: true}
	d.pods = append(d.pods, p)
	cfg := d.w.PodConfig(p.name)
	return func(ctx context.Context) (string, bool) {
		var id string
		res, _ := d.call(ctx, "RunPodSandbox "+p.name, func(ctx context.Context) error {
			r, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
			id = r.GetPodSandboxId()
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		p.busy, p.run, p.id = false, res, id
		return cutCall("RunPodSandbox", res)
	}
}

func (d *driver) createCtr(p *pod, rng *rand.Rand) op {
	d.names++
	c := &ctr{pod: p, created: maybe}
	switch r := rng.IntN(20); {
	case r < 4:
		c.kind = long
	case r < 11:
		c.kind, c.code = onCue, int32(rng.IntN(100))
	case r < 15:
		c.kind = oomOnCue
	default:
		c.kind, c.code = quick, int32(rng.IntN(100))
	}
	c.name = fmt.Sprintf("c%d-%s", d.names, c.kind)
	var cfg *runtimeapi.ContainerConfig
	switch c.kind {
	case long:
		cfg = rig.ContainerConfig(c.name, "sleep", "100000")
	case quick:
		cfg = rig.ContainerConfig(c.name, "sh", "-c", fmt.Sprintf("sleep 0.%d; exit %d", rng.IntN(10), c.code))
	case onCue, oomOnCue:
		dir := filepath.Join(d.w.Dir(), "triggers", c.name)
		c.fifo = filepath.Join(dir, "go")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			panic(err)
		}
		if err := unix.Mkfifo(c.fifo, 0o666); err != nil {
			panic(err)
		}
		script := fmt.Sprintf("read x </trigger/go; exit %d", c.code)
		if c.kind == oomOnCue {
			script = "read x </trigger/go; dd if=/dev/zero of=/dev/null bs=20M"
		}
		cfg = rig.ContainerConfig(c.name, "sh", "-c", script)
		cfg.Mounts = []*runtimeapi.Mount{{HostPath: dir, ContainerPath: "/trigger", Readonly: true}}
		if c.kind == oomOnCue {
			cfg.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 15 << 20, MemorySwapLimitInBytes: 15 << 20}
		}
	}
	p.ctrs = append(p.ctrs, c)
	p.busy = true
	return func(ctx context.Context) (string, bool) {
		var id string
		res, _ := d.call(ctx, "CreateContainer "+c.name, func(ctx context.Context) error {
			r, err := d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p.id, Config: cfg})
			id = r.GetContainerId()
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		p.busy, c.created, c.id = false, res, id
		return cutCall("CreateContainer", res)
	}
}

// imageOp pulls the image when it is absent, removes it when present,
// and does either when a cut call left it unknown.
func (d *driver) imageOp(i *img) op {
	i.busy = true
	pull := i.present != done
	i.present = maybe
	return func(ctx context.Context) (string, bool) {
		what := "RemoveImage"
		if pull {
			what = "PullImage"
		}
		res, _ := d.call(ctx, what+" "+i.ref, func(ctx context.Context) error {
			var err error
			if pull {
				_, err = d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: i.ref}})
			} else {
				_, err = d.img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: i.ref}})
			}
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		i.busy = false
		switch {
		case res == maybe:
		case res == done && pull, res != done && !pull:
			i.present = done
		default:
			i.present = notAsked
		}
		return cutCall(what, res)
	}
}

func (d *driver) startCtr(c *ctr) op {
	c.pod.busy, c.started = true, maybe
	return func(ctx context.Context) (string, bool) {
		res, _ := d.call(ctx, "StartContainer "+c.name, func(ctx context.Context) error {
			_, err := d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.id})
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		c.pod.busy, c.started = false, res
		return cutCall("StartContainer", res)
	}
}

func (d *driver) execCtr(c *ctr, rng *rand.Rand) op {
	c.pod.busy = true
	code, word := int32(rng.IntN(5)), fmt.Sprintf("out-%d", rng.IntN(1000))
	return func(ctx context.Context) (string, bool) {
		var resp *runtimeapi.ExecSyncResponse
		res, _ := d.call(ctx, "ExecSync "+c.name, func(ctx context.Context) error {
			var err error
			resp, err = d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: c.id, Timeout: 30,
				Cmd: []string{"sh", "-c", fmt.Sprintf("echo %s; exit %d", word, code)}})
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		c.pod.busy = false
		if res == done {
			d.execs++
			if resp.GetExitCode() != code || string(resp.GetStdout()) != word+"\n" {
				d.refusedLocked("ExecSync %s: exit %d stdout %q, want %d %q", c.name, resp.GetExitCode(), resp.GetStdout(), code, word+"\n")
			}
		}
		return cutCall("ExecSync", res)
	}
}

func (d *driver) stopCtr(c *ctr, rng *rand.Rand) op {
	c.pod.busy, c.stopped = true, maybe
	timeout := int64(rng.IntN(2))
	return func(ctx context.Context) (string, bool) {
		res, _ := d.call(ctx, "StopContainer "+c.name, func(ctx context.Context) error {
			_, err := d.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.id, Timeout: timeout})
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		c.pod.busy, c.stopped = false, res
		return cutCall("StopContainer", res)
	}
}

func (d *driver) removeCtr(c *ctr) op {
	c.pod.busy, c.removed = true, maybe
	return func(ctx context.Context) (string, bool) {
		res, _ := d.call(ctx, "RemoveContainer "+c.name, func(ctx context.Context) error {
			_, err := d.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.id})
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		c.pod.busy, c.removed = false, res
		return cutCall("RemoveContainer", res)
	}
}

func (d *driver) stopPod(p *pod) op {
	p.busy, p.stopped = true, maybe
	return func(ctx context.Context) (string, bool) {
		res, _ := d.call(ctx, "StopPodSandbox "+p.name, func(ctx context.Context) error {
			_, err := d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.id})
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		p.busy, p.stopped = false, res
		return cutCall("StopPodSandbox", res)
	}
}

func (d *driver) removePod(p *pod) op {
	p.busy, p.removed = true, maybe
	return func(ctx context.Context) (string, bool) {
		res, _ := d.call(ctx, "RemovePodSandbox "+p.name, func(ctx context.Context) error {
			_, err := d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.id})
			return err
		})
		d.mu.Lock()
		defer d.mu.Unlock()
		p.busy, p.removed = false, res
		return cutCall("RemovePodSandbox", res)
	}
}

// fireSome triggers up to n containers waiting for their cue: started,
// not asked to stop, not triggered yet. A trigger is a write to the FIFO
// the container's shell is reading; a container not reading yet (ENXIO
// for a nonblocking open) is passed over. d.mu is held.
func (d *driver) fireSome(n int, down bool) []*ctr {
	var cands []*ctr
	for _, p := range d.pods {
		if p.stopped != notAsked || p.removed != notAsked {
			continue
		}
		for _, c := range p.ctrs {
			if c.fifo != "" && !c.fired && c.started == done && !c.stopAsked() && !c.removeAsked() {
				cands = append(cands, c)
			}
		}
	}
	d.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	var fired []*ctr
	for _, c := range cands {
		if len(fired) == n {
			break
		}
		if !trigger(c.fifo) {
			continue
		}
		c.fired, c.firedDown = true, down
		fired = append(fired, c)
		if down {
			if c.kind == oomOnCue {
				d.oomsDown++
			} else {
				d.exitsDown++
			}
		}
	}
	return fired
}

// trigger writes the FIFO if a reader has it open (for up to a second: a
// container just started may not have reached its read yet).
func trigger(fifo string) bool {
	for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
		fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			_, werr := unix.Write(fd, []byte("go\n"))
			unix.Close(fd)
			return werr == nil
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			return false
		}
	}
}
