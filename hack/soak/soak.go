package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/hack/chaos/rig"
)

// soak is one run: the world, the subscribers, the figures and the
// problems found.
type soak struct {
	o options
	w *rig.World

	live    []*rig.Follower // reading all along
	stalled *rig.Follower   // reads nothing until every wave is done

	mu       sync.Mutex
	problems []string
	peakRSS  int64
	shimRSS  dist
	shimPss  dist
}

func (s *soak) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.problems = append(s.problems, msg)
	n := len(s.problems)
	s.mu.Unlock()
	if n <= 20 {
		fmt.Println("  PROBLEM", msg)
	}
}

func (s *soak) run() int {
	t0 := time.Now()
	ctx := context.Background()
	if err := s.w.Start(); err != nil {
		fmt.Println("soak:", err)
		return 2
	}
	if _, err := s.w.Img().PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: rig.Busybox}}); err != nil {
		fmt.Println("soak: pull:", err)
		return 2
	}
	fresh := s.sample(ctx)
	for i := range s.o.subscribers {
		f := rig.Follow(s.w.Socket, i == s.o.subscribers-1)
		defer f.Close()
		if i == s.o.subscribers-1 {
			s.stalled = f
		} else {
			s.live = append(s.live, f)
		}
	}
	for _, f := range append(slices.Clone(s.live), s.stalled) {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, ok := f.Started(); ok {
				break
			}
			if time.Now().After(deadline) {
				fmt.Println("soak: a subscriber could not subscribe")
				return 2
			}
		}
	}
	fmt.Printf("soak: %d pods in waves of %d, %d workers, %d subscribers (1 stalled), journal-retention %v\n",
		s.o.pods, s.o.wave, s.o.workers, s.o.subscribers, s.o.retention)

	warm := min(20, s.o.wave)
	s.wave(ctx, "warm-up", warm, false)
	s.catchUp(ctx, s.live)
	before := s.sample(ctx)
	s.saveHeap(ctx, "before")

	var createTook, removeTook time.Duration
	done := 0
	for n := 1; done < s.o.pods; n++ {
		size := min(s.o.wave, s.o.pods-done)
		c, r := s.wave(ctx, fmt.Sprintf("wave %d", n), size, true)
		createTook += c
		removeTook += r
		done += size
		fmt.Printf("wave %d: %d pods up in %.1fs (%.1f pods/s), removed in %.1fs; daemon RSS peak so far %s\n",
			n, size, c.Seconds(), float64(size)/c.Seconds(), r.Seconds(), kib(s.peakRSS))
	}
	s.catchUp(ctx, s.live)
	after := s.sample(ctx)
	s.saveHeap(ctx, "after")

	// The stalled subscriber reads at last: it must get everything.
	s.stalled.Resume()
	stallStart := time.Now()
	s.catchUp(ctx, []*rig.Follower{s.stalled})
	stallTook := time.Since(stallStart)
	loss, checked := s.eventLoss(ctx)

	if out, err := s.w.VerifyJournal(ctx); err != nil {
		s.problem("logbook journal verify: %v: %s", err, out)
	}
	s.checkLeaks(ctx)
	jFirst, jLast, _ := s.w.Journal().Bounds(ctx)
	sizeBefore := fileSize(filepath.Join(s.w.Root, "journal.db"))

	// Compaction: a clean restart runs the retention policy at once;
	// records older than the window go, a snapshot stands for them.
	for _, f := range append(s.live, s.stalled) {
		f.Close()
	}
	if err := s.w.Stop(); err != nil {
		s.problem("logbookd on SIGTERM: %v", err)
	}
	if err := s.w.Start(); err != nil {
		s.problem("restart: %v", err)
		s.report(fresh, before, after, 0, 0, 0, 0, 0, 0, createTook, removeTook, stallTook, loss, checked, t0)
		return 1
	}
	var cFirst, cLast uint64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		cFirst, cLast, _ = s.w.Journal().Bounds(ctx)
		if cFirst > jFirst || time.Now().After(deadline) {
			break
		}
	}
	if cFirst <= jFirst {
		s.problem("no compaction within a minute of the restart (first retained record still %d)", cFirst)
	}
	if out, err := s.w.VerifyJournal(ctx); err != nil {
		s.problem("logbook journal verify after compaction: %v: %s", err, out)
	}
	sizeAfter := fileSize(filepath.Join(s.w.Root, "journal.db"))
	s.problems = append(s.problems, defaultBounds.check(before, after)...)
	s.report(fresh, before, after, jFirst, jLast, cFirst, cLast, sizeBefore, sizeAfter, createTook, removeTook, stallTook, loss, checked, t0)
	if len(s.problems) > 0 {
		return 1
	}
	return 0
}

// wave brings n pods up with the workers (a pod sandbox and one busybox
// container each: half sleep, half exit at once), samples the daemon and
// some shims at the peak, then stops and removes them all.
func (s *soak) wave(ctx context.Context, name string, n int, measure bool) (up, down time.Duration) {
	ids := make([]string, n)
	t := time.Now()
	s.parallel(n, func(i int) {
		pname := fmt.Sprintf("%s-%d", strings.ReplaceAll(name, " ", ""), i)
		cfg := s.w.PodConfig(pname)
		rt := s.w.RT()
		p, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
		if err != nil {
			s.problem("%s: RunPodSandbox: %v", pname, err)
			return
		}
		ids[i] = p.GetPodSandboxId()
		cmd := []string{"sleep", "100000"}
		if i%2 == 1 {
			cmd = []string{"true"}
		}
		c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: ids[i], SandboxConfig: cfg,
			Config: rig.ContainerConfig("c", cmd...)})
		if err != nil {
			s.problem("%s: CreateContainer: %v", pname, err)
			return
		}
		if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.GetContainerId()}); err != nil {
			s.problem("%s: StartContainer: %v", pname, err)
		}
	})
	up = time.Since(t)
	if measure {
		smp := s.sample(ctx)
		s.mu.Lock()
		s.peakRSS = max(s.peakRSS, smp.rssKiB)
		s.mu.Unlock()
		s.sampleShims(10)
	}
	t = time.Now()
	s.parallel(n, func(i int) {
		if ids[i] == "" {
			return
		}
		rt := s.w.RT()
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: ids[i]}); err != nil {
			s.problem("StopPodSandbox %s: %v", ids[i], err)
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: ids[i]}); err != nil {
			s.problem("RemovePodSandbox %s: %v", ids[i], err)
		}
	})
	return up, time.Since(t)
}

// parallel runs fn(0..n-1) on the workers.
func (s *soak) parallel(n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range s.o.workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// sample measures the daemon.
func (s *soak) sample(ctx context.Context) sample {
	pid := s.w.PID()
	var out sample
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	out.rssKiB, out.threads = parseStatus(b)
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	out.fds = len(fds)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.w.MetricsAddr+"/metrics", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if v, ok := metricValue(string(text), "go_goroutines"); ok {
			out.goroutines = int(v)
		}
	} else {
		s.problem("metrics: %v", err)
	}
	return out
}

// saveHeap saves the daemon's heap profile, after a collection, as
// heap-<name>.pb.gz in the profiles directory, if there is one.
func (s *soak) saveHeap(ctx context.Context, name string) {
	if s.o.profiles == "" {
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.w.MetricsAddr+"/debug/pprof/heap?gc=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.problem("heap profile: %v", err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s", resp.Status)
	}
	if err == nil {
		err = os.MkdirAll(s.o.profiles, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(s.o.profiles, "heap-"+name+".pb.gz"), b, 0o644)
	}
	if err != nil {
		s.problem("heap profile: %v", err)
	}
}

// sampleShims records the VmRSS and Pss of up to n shims picked at random.
func (s *soak) sampleShims(n int) {
	pids := s.w.ShimPIDs()
	rand.Shuffle(len(pids), func(i, j int) { pids[i], pids[j] = pids[j], pids[i] })
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pid := range pids[:min(n, len(pids))] {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		rss, _ := parseStatus(b)
		roll, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue
		}
		s.shimRSS = append(s.shimRSS, rss)
		s.shimPss = append(s.shimPss, parsePss(roll))
	}
}

// catchUp waits until each follower has received the messages of the
// journal's last eventful record (ten minutes at most). It reads only the
// journal's tail: the figures measured next must not include the daemon
// reading the whole journal for the driver.
func (s *soak) catchUp(ctx context.Context, fs []*rig.Follower) {
	j := s.w.Journal()
	_, last, err := j.Bounds(ctx)
	if err != nil {
		s.problem("journal bounds: %v", err)
		return
	}
	target, err := rig.LastEventful(ctx, j, last)
	if err != nil {
		s.problem("the journal's tail: %v", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for _, f := range fs {
		if err := f.WaitPosition(wctx, target); err != nil {
			s.problem("a subscriber: %v", err)
		}
	}
}

// eventLoss compares what each subscriber received with the journal (one
// read of it, from the earliest subscriber's start); it returns the
// messages missing in all and the messages checked.
func (s *soak) eventLoss(ctx context.Context) (missing, checked int) {
	j := s.w.Journal()
	_, last, err := j.Bounds(ctx)
	if err != nil {
		s.problem("journal bounds: %v", err)
		return 0, 0
	}
	all := append(slices.Clone(s.live), s.stalled)
	first := last
	for _, f := range all {
		start, _ := f.Started()
		first = min(first, start)
	}
	want, err := rig.Expected(ctx, j, first, last)
	if err != nil {
		s.problem("the journal's events: %v", err)
		return 0, 0
	}
	for i, f := range all {
		start, got, problems := f.Received()
		for _, p := range problems {
			s.problem("subscriber %d: %s", i, p)
		}
		got = slices.DeleteFunc(got, func(e rig.Event) bool { return e.Seq > last })
		mine := slices.DeleteFunc(slices.Clone(want), func(e rig.Event) bool { return e.Seq <= start })
		checked += len(got)
		if len(got) < len(mine) {
			missing += len(mine) - len(got)
		}
		for _, p := range rig.Compare(got, mine, 5) {
			s.problem("subscriber %d (stalled %v): %s", i, f == s.stalled, p)
		}
	}
	return missing, checked
}

// checkLeaks polls the leak check with no pod left.
func (s *soak) checkLeaks(ctx context.Context) {
	var leaks []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		live, err := s.w.LiveNow(ctx)
		if err != nil {
			leaks = []string{err.Error()}
		} else {
			leaks = s.w.Leaks(ctx, live)
			if len(live.Objects) > 0 {
				leaks = append(leaks, fmt.Sprintf("%d objects still listed", len(live.Objects)))
			}
		}
		if len(leaks) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, l := range leaks {
		s.problem("leak: %s", l)
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (s *soak) report(fresh, before, after sample, jFirst, jLast, cFirst, cLast uint64, sizeBefore, sizeAfter int64,
	createTook, removeTook, stallTook time.Duration, loss, checked int, t0 time.Time) {
	total := float64(s.o.pods)
	fmt.Printf("\nsoak figures (%d pods, %v in all)\n", s.o.pods, time.Since(t0).Round(time.Second))
	fmt.Printf("  pods: up %.1f pods/s (sandbox + container + start), down %.1f pods/s (stop + remove), %d workers\n",
		total/createTook.Seconds(), total/removeTook.Seconds(), s.o.workers)
	fmt.Printf("  daemon RSS:   fresh %s, baseline (after warm-up) %s, after %s (%s of baseline), peak %s\n",
		kib(fresh.rssKiB), kib(before.rssKiB), kib(after.rssKiB), ratio(float64(before.rssKiB), float64(after.rssKiB)), kib(s.peakRSS))
	fmt.Printf("  goroutines:   fresh %d, baseline %d, after %d (%+d)\n", fresh.goroutines, before.goroutines, after.goroutines, after.goroutines-before.goroutines)
	fmt.Printf("  fds:          fresh %d, baseline %d, after %d (%+d); threads %d -> %d\n", fresh.fds, before.fds, after.fds, after.fds-before.fds, before.threads, after.threads)
	fmt.Printf("  bounds:       RSS after <= %.1fx baseline + %s, goroutines and fds within +%d/+%d of baseline\n",
		defaultBounds.rssFactor, kib(defaultBounds.rssSlackKiB), defaultBounds.goroutines, defaultBounds.fds)
	fmt.Printf("  shim VmRSS:   %v\n  shim Pss:     %v\n", s.shimRSS, s.shimPss)
	fmt.Printf("  journal:      records %d..%d (%d), file %s before compaction; after the restart records %d..%d (%d retained, %s), file %s\n",
		jFirst, jLast, jLast-jFirst+1, kib(sizeBefore/1024), cFirst, cLast, cLast-cFirst+1,
		ratio(float64(jLast-jFirst+1), float64(cLast-cFirst+1)), kib(sizeAfter/1024))
	fmt.Printf("  events:       %d messages checked over %d subscribers, %d lost; the stalled one caught up in %.1fs\n",
		checked, s.o.subscribers, loss, stallTook.Seconds())
	if len(s.problems) == 0 {
		fmt.Println("soak: every check passed")
		return
	}
	fmt.Printf("soak: %d PROBLEM(S):\n  %s\n", len(s.problems), strings.Join(s.problems, "\n  "))
}
