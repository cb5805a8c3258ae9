package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const image = "registry.k8s.io/e2e-test-images/busybox:1.29-2"

type options struct {
	logbookd, testimages, runc string
	samples, workers, parallel int
	listContainers, listCalls  int
	cni                        bool
	keep                       bool
}

func main() {
	var o options
	flag.StringVar(&o.logbookd, "logbookd", "bin/logbookd", "logbookd binary (logbook-shim and logbook-pause next to it)")
	flag.StringVar(&o.testimages, "testimages", "bin/testimages", "test registry binary")
	flag.StringVar(&o.runc, "runc", "runc", "runc binary of the baseline")
	flag.IntVar(&o.samples, "samples", 30, "pods started one at a time (latency samples)")
	flag.IntVar(&o.workers, "workers", 4, "concurrent workers for pods/s")
	flag.IntVar(&o.parallel, "parallel-pods", 40, "pods started by the workers")
	flag.IntVar(&o.listContainers, "list-containers", 1000, "containers present while lists are measured (0: no list measurement)")
	flag.IntVar(&o.listCalls, "list-calls", 200, "calls per list measurement")
	flag.BoolVar(&o.cni, "cni", true, "give pods a network (a private CNI bridge); false: host-network pods")
	flag.BoolVar(&o.keep, "keep", false, "keep the daemon's directories")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// stats summarises latency samples.
type stats []time.Duration

func (s stats) pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(p * float64(len(c)-1))
	return c[i]
}

func (s stats) mean() time.Duration {
	if len(s) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range s {
		t += d
	}
	return t / time.Duration(len(s))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func (s stats) line(name string) string {
	return fmt.Sprintf("%-34s n=%-5d p50 %8s ms  p90 %8s ms  p99 %8s ms  mean %8s ms",
		name, len(s), ms(s.pct(.5)), ms(s.pct(.9)), ms(s.pct(.99)), ms(s.mean()))
}

type bench struct {
	o      options
	dir    string
	socket string
	rt     runtimeapi.RuntimeServiceClient
	img    runtimeapi.ImageServiceClient
	n      int
	mu     sync.Mutex
}

func run(o options) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	// A reader that goes away (`| head`) must not kill the run before it
	// has removed its pods and stopped its daemon.
	signal.Ignore(syscall.SIGPIPE)
	if os.Geteuid() != 0 {
		return errors.New("needs root")
	}
	// Shims are re-parented here if the daemon dies; reap them.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	dir, err := os.MkdirTemp("", "logbook-loadtest-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	b := &bench{o: o, dir: dir, socket: filepath.Join(dir, "state", "logbook.sock")}

	addrFile := filepath.Join(dir, "registry.addr")
	reg := exec.Command(o.testimages, "serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile)
	if err := reg.Start(); err != nil {
		return fmt.Errorf("test registry: %w", err)
	}
	defer func() { reg.Process.Signal(syscall.SIGTERM); reg.Wait() }()
	var addr []byte
	for deadline := time.Now().Add(60 * time.Second); len(bytes.TrimSpace(addr)) == 0; {
		if time.Now().After(deadline) {
			return errors.New("the test registry did not start")
		}
		time.Sleep(20 * time.Millisecond)
		addr, _ = os.ReadFile(addrFile)
	}
	mirror := "http://" + strings.TrimSpace(string(addr))
	cfg := map[string]any{
		"root": filepath.Join(dir, "root"), "state": filepath.Join(dir, "state"), "socket": b.socket,
		"metrics-address": "", "log-level": "warn",
		"registry-mirrors": map[string][]string{"registry.k8s.io": {mirror}},
		"cni-conf-dir":     filepath.Join(dir, "net.d"),
	}
	os.MkdirAll(filepath.Join(dir, "net.d"), 0o755)
	if o.cni {
		conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"lbbench","plugins":[{"type":"bridge","bridge":"lbbench0","isGateway":true,"ipMasq":false,
			"ipam":{"type":"host-local","ranges":[[{"subnet":"10.199.240.0/22"}]],"dataDir":%q}}]}`, filepath.Join(dir, "ipam"))
		os.WriteFile(filepath.Join(dir, "net.d", "10-bench.conflist"), []byte(conf), 0o644)
		defer exec.Command("ip", "link", "del", "lbbench0").Run()
	}
	cfgJSON, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "daemon.json"), cfgJSON, 0o644)
	logf, err := os.Create(filepath.Join(dir, "logbookd.log"))
	if err != nil {
		return err
	}
	d := exec.Command(o.logbookd, "--config", filepath.Join(dir, "daemon.json"))
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		return err
	}
	defer func() {
		d.Process.Signal(syscall.SIGTERM)
		d.Wait()
		for {
			var ws unix.WaitStatus
			if pid, _ := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 {
				break
			}
		}
	}()
	conn, err := grpc.NewClient("unix://"+b.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	b.rt, b.img = runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	for deadline := time.Now().Add(60 * time.Second); ; {
		cctx, c := context.WithTimeout(ctx, time.Second)
		_, err := b.rt.Version(cctx, &runtimeapi.VersionRequest{})
		c()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("logbookd does not answer (log %s): %w", logf.Name(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := b.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}}); err != nil {
		return err
	}
	defer b.removeAll(context.Background())
	netName := "pod network (CNI bridge)"
	if !o.cni {
		netName = "host network"
	}
	fmt.Printf("logbookd %s, pods with %s; %d samples\n", o.logbookd, netName, o.samples)
	return b.measure(ctx)
}

func (b *bench) podConfig(name string) *runtimeapi.PodSandboxConfig {
	b.mu.Lock()
	b.n++
	n := b.n
	b.mu.Unlock()
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("%s-%d", name, n), Namespace: "bench", Uid: fmt.Sprintf("uid-%d", n)},
		Linux:    &runtimeapi.LinuxPodSandboxConfig{},
	}
	if !b.o.cni {
		cfg.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}
	}
	return cfg
}

func ctrConfig(name string, cmd ...string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: image},
		Command:  cmd,
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}
}

// startPod runs a pod with one running `sleep` container.
// startPod runs a pod and its container; took is the whole, parts its
// three calls (RunPodSandbox, CreateContainer, StartContainer).
func (b *bench) startPod(ctx context.Context) (pod, ctr string, took time.Duration, parts [3]time.Duration, err error) {
	cfg := b.podConfig("p")
	start := time.Now()
	r, err := b.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		return "", "", 0, parts, err
	}
	parts[0] = time.Since(start)
	c, err := b.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: r.PodSandboxId,
		Config: ctrConfig("c", "sleep", "3600"), SandboxConfig: cfg})
	if err != nil {
		return r.PodSandboxId, "", 0, parts, err
	}
	parts[1] = time.Since(start) - parts[0]
	if _, err := b.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		return r.PodSandboxId, c.ContainerId, 0, parts, err
	}
	took = time.Since(start)
	parts[2] = took - parts[0] - parts[1]
	return r.PodSandboxId, c.ContainerId, took, parts, nil
}

func timeIt(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

func (b *bench) measure(ctx context.Context) error {
	o := b.o
	// Warm up (first pod pays for page cache and lazy init).
	if p, _, _, _, err := b.startPod(ctx); err == nil {
		b.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p})
	} else {
		return err
	}

	var podStart, podStop, podRemove, ctrStop, ctrRemove stats
	var startParts [3]stats
	var lastPod, lastCtr string
	for i := 0; i < o.samples; i++ {
		pod, ctr, took, parts, err := b.startPod(ctx)
		if err != nil {
			return err
		}
		podStart = append(podStart, took)
		for k := range parts {
			startParts[k] = append(startParts[k], parts[k])
		}
		if i%2 == 0 {
			// Container stop and remove on their own, then the pod's.
			t, err := timeIt(func() error {
				_, err := b.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ctr, Timeout: 0})
				return err
			})
			if err != nil {
				return err
			}
			ctrStop = append(ctrStop, t)
			if t, err = timeIt(func() error {
				_, err := b.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ctr})
				return err
			}); err != nil {
				return err
			}
			ctrRemove = append(ctrRemove, t)
		}
		if i == o.samples-1 {
			lastPod, lastCtr = pod, ctr // kept for the baseline's bundles
			if i%2 == 0 {
				if _, ctr, _, _, err = b.startPod(ctx); err != nil {
					return err
				}
				lastCtr = ctr
			}
			break
		}
		t, err := timeIt(func() error {
			_, err := b.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
			return err
		})
		if err != nil {
			return err
		}
		podStop = append(podStop, t)
		if t, err = timeIt(func() error {
			_, err := b.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod})
			return err
		}); err != nil {
			return err
		}
		podRemove = append(podRemove, t)
	}

	// The baseline: bare runc runs of the same bundles.
	baseline, err := b.baseline(ctx, lastPod, lastCtr, o.samples)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}

	// Throughput.
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, o.workers)
	next := make(chan struct{}, o.parallel)
	for i := 0; i < o.parallel; i++ {
		next <- struct{}{}
	}
	close(next)
	for w := 0; w < o.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if _, _, _, _, err := b.startPod(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}

	fmt.Println(podStart.line("pod start (run+create+start)"))
	for k, name := range []string{"  RunPodSandbox", "  CreateContainer", "  StartContainer"} {
		fmt.Println(startParts[k].line(name))
	}
	fmt.Println(baseline.line("baseline: 2 x runc run -d"))
	fmt.Printf("%-34s p50 %.2fx  mean %.2fx  (budget 1.3x)\n", "ratio pod start / baseline", ratio(podStart.pct(.5), baseline.pct(.5)), ratio(podStart.mean(), baseline.mean()))
	fmt.Println(podStop.line("pod stop (StopPodSandbox)"))
	fmt.Println(podRemove.line("pod remove (RemovePodSandbox)"))
	fmt.Println(ctrStop.line("container stop (timeout 0)"))
	fmt.Println(ctrRemove.line("container remove"))
	fmt.Printf("%-34s %.1f pods/s (%d pods, %d workers, %s)\n", "pod start throughput", float64(o.parallel)/elapsed.Seconds(), o.parallel, o.workers, elapsed.Round(time.Millisecond))

	if o.listContainers <= 0 {
		return nil
	}
	return b.lists(ctx)
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// baseline runs the infra's and the container's bundles (as logbookd wrote
// them) with bare runc: each spec is copied with fresh namespaces (it
// joined the pod's by path) and a cgroup of its own, beside the original
// rootfs. One sample is a pair of `runc run -d`, timed; the deletes are
// not.
func (b *bench) baseline(ctx context.Context, pod, ctr string, n int) (stats, error) {
	state := filepath.Join(b.dir, "state")
	var bundles []string
	for i, id := range []string{pod, ctr} {
		raw, err := os.ReadFile(filepath.Join(state, "bundles", id, "config.json"))
		if err != nil {
			return nil, err
		}
		var spec specs.Spec
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, err
		}
		for j := range spec.Linux.Namespaces {
			spec.Linux.Namespaces[j].Path = ""
		}
		spec.Linux.CgroupsPath = ""
		var mounts []specs.Mount
		for _, m := range spec.Mounts {
			if m.Type == "bind" && strings.HasPrefix(m.Source, state) {
				continue // the pod's /dev/shm and /etc files: nothing a bare run has
			}
			mounts = append(mounts, m)
		}
		spec.Mounts = mounts
		if !filepath.IsAbs(spec.Root.Path) {
			spec.Root.Path = filepath.Join(state, "bundles", id, spec.Root.Path)
		}
		dir := filepath.Join(b.dir, fmt.Sprintf("baseline-%d", i))
		os.MkdirAll(dir, 0o755)
		out, _ := json.Marshal(spec)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644); err != nil {
			return nil, err
		}
		bundles = append(bundles, dir)
	}
	root := filepath.Join(b.dir, "baseline-runc")
	var s stats
	for i := 0; i < n+1; i++ {
		ids := []string{fmt.Sprintf("base-%d-infra", i), fmt.Sprintf("base-%d-ctr", i)}
		start := time.Now()
		for j, id := range ids {
			// The detached container keeps runc's stdio: a file, not a
			// pipe that would never close.
			logPath := filepath.Join(b.dir, "baseline.log")
			logf, err := os.Create(logPath)
			if err != nil {
				return nil, err
			}
			cmd := exec.CommandContext(ctx, b.o.runc, "--root", root, "run", "-d", "--bundle", bundles[j], id)
			cmd.Stdout, cmd.Stderr = logf, logf
			err = cmd.Run()
			logf.Close()
			if err != nil {
				out, _ := os.ReadFile(logPath)
				return nil, fmt.Errorf("runc run: %v: %s", err, out)
			}
		}
		took := time.Since(start)
		for _, id := range ids {
			exec.Command(b.o.runc, "--root", root, "delete", "-f", id).Run()
		}
		if i > 0 { // the first is the warm-up
			s = append(s, took)
		}
	}
	return s, nil
}

// lists measures the read RPCs with o.listContainers containers present.
func (b *bench) lists(ctx context.Context) error {
	o := b.o
	have, err := b.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return err
	}
	missing := max(0, o.listContainers-len(have.GetContainers()))
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, o.workers)
	work := make(chan int, missing)
	for i := 0; i < missing; i++ {
		work <- i
	}
	close(work)
	pods := map[int]string{}
	var podsMu sync.Mutex
	podFor := func(k int) (string, error) {
		podsMu.Lock()
		defer podsMu.Unlock()
		if id, ok := pods[k]; ok {
			return id, nil
		}
		r, err := b.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: b.podConfig("list")})
		if err != nil {
			return "", err
		}
		pods[k] = r.PodSandboxId
		return r.PodSandboxId, nil
	}
	for w := 0; w < o.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				pod, err := podFor(i / 100)
				if err != nil {
					errs <- err
					return
				}
				c, err := b.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: ctrConfig(fmt.Sprintf("c%d", i), "true")})
				if err != nil {
					errs <- err
					return
				}
				if _, err := b.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	all, err := b.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return err
	}
	sbs, _ := b.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	fmt.Printf("lists with %d containers in %d pods (made in %s)\n", len(all.GetContainers()), len(sbs.GetItems()), time.Since(start).Round(time.Millisecond))
	ids := all.GetContainers()
	measure := func(name string, fn func(i int) error) error {
		var s stats
		for i := 0; i < o.listCalls; i++ {
			t, err := timeIt(func() error { return fn(i) })
			if err != nil {
				return err
			}
			s = append(s, t)
		}
		fmt.Println(s.line(name))
		return nil
	}
	if err := measure("ListContainers (all)", func(int) error {
		_, err := b.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
		return err
	}); err != nil {
		return err
	}
	if err := measure("ListContainers (one pod)", func(i int) error {
		_, err := b.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: ids[i%len(ids)].PodSandboxId}})
		return err
	}); err != nil {
		return err
	}
	if err := measure("ListPodSandbox (all)", func(int) error {
		_, err := b.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
		return err
	}); err != nil {
		return err
	}
	return measure("ContainerStatus", func(i int) error {
		_, err := b.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ids[i%len(ids)].Id})
		return err
	})
}

// removeAll removes every pod, so that no shim outlives the run.
func (b *bench) removeAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	pods, err := b.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	ch := make(chan string)
	for w := 0; w < b.o.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ch {
				if _, err := b.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
					fmt.Fprintln(os.Stderr, "loadtest: remove pod:", err)
				}
			}
		}()
	}
	for _, p := range pods.GetItems() {
		ch <- p.GetId()
	}
	close(ch)
	wg.Wait()
}
