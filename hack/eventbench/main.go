package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/remote"
)

const image = "registry.k8s.io/e2e-test-images/busybox:1.29-2"

type options struct {
	logbookd, testimages string
	pods, subscribers    int
	duration, runFor     time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.logbookd, "logbookd", "bin/logbookd", "logbookd binary (logbook-shim and logbook-pause next to it)")
	flag.StringVar(&o.testimages, "testimages", "bin/testimages", "test registry binary")
	flag.IntVar(&o.pods, "pods", 100, "pods churning at once")
	flag.IntVar(&o.subscribers, "subscribers", 9, "reading GetContainerEvents clients (a stalled one is added in the second phase)")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of each phase")
	flag.DurationVar(&o.runFor, "run-for", time.Second, "how long each container runs before it exits (0: busybox true, which exits while StartContainer is still journaling its start, so the exit's STOPPED waits for the STARTED)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "eventbench:", err)
		os.Exit(1)
	}
}

// world is the registry and the daemon, and how to tear them down.
type world struct {
	dir      string
	socket   string
	registry *exec.Cmd
	daemon   *exec.Cmd
	daemonCh chan error
}

func run(o options) error {
	// Shims outlive the daemon's children bookkeeping if it dies first;
	// as a sub-reaper this process collects them instead of PID 1 (which
	// does not reap here).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	w, err := setUp(o)
	if err != nil {
		return err
	}
	defer w.tearDown()

	ctx := context.Background()
	conn, err := dial(w.socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	rt, img := runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	if _, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}}); err != nil {
		return fmt.Errorf("pull %s: %w", image, err)
	}
	jr := remote.NewClient(conn)

	exits := newExits()
	var subs []*subscriber
	for i := range o.subscribers {
		s, err := subscribe(w.socket, i == 0, exits)
		if err != nil {
			return err
		}
		defer s.close()
		subs = append(subs, s)
	}
	fmt.Printf("event delivery, container exit -> subscriber, real logbookd: %d pods churning, containers exiting after %v, %d reading subscribers (+1 stalled in phase 2), %v a phase\n",
		o.pods, o.runFor, o.subscribers, o.duration)
	for phase, stalled := range []bool{false, true} {
		if stalled {
			s, err := subscribe(w.socket, false, nil) // opened, never read
			if err != nil {
				return err
			}
			defer s.close()
		}
		for _, s := range subs {
			s.reset()
		}
		_, first, err := jr.Bounds(ctx)
		if err != nil {
			return err
		}
		start := time.Now()
		cycles, failures := churn(ctx, rt, exits, o, phase)
		took := time.Since(start)
		_, last, err := jr.Bounds(ctx)
		if err != nil {
			return err
		}
		var lat []sampleLat
		for _, s := range subs {
			lat = append(lat, s.take()...)
		}
		name := "stalled=no "
		if stalled {
			name = "stalled=yes"
		}
		report(name, lat, cycles, failures, float64(last-first)/took.Seconds(), took)
	}
	return nil
}

func report(name string, lat []sampleLat, cycles, failures int, records float64, took time.Duration) {
	part := func(f func(sampleLat) time.Duration) func(p float64) string {
		ds := make([]time.Duration, len(lat))
		for i, l := range lat {
			ds[i] = f(l)
		}
		slices.Sort(ds)
		return func(p float64) string {
			if len(ds) == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1fms", float64(ds[min(len(ds)-1, int(float64(len(ds))*p))].Microseconds())/1000)
		}
	}
	total := part(func(l sampleLat) time.Duration { return l.total })
	journal := part(func(l sampleLat) time.Duration { return l.journal })
	fanout := part(func(l sampleLat) time.Duration { return l.fanout })
	fmt.Printf("%s  exit->subscriber p50 %s p99 %s max %s | exit->journal p50 %s p99 %s | journal->subscriber p50 %s p99 %s | %d deliveries, pod cycles %.1f/s (%d failed), journal %.0f records/s\n",
		name, total(0.5), total(0.99), total(1), journal(0.5), journal(0.99), fanout(0.5), fanout(0.99),
		len(lat), float64(cycles)/took.Seconds(), failures, records)
}

// exits hands a container's exit event to the worker waiting for it.
type exits struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

func newExits() *exits { return &exits{waiters: map[string]chan struct{}{}} }

func (e *exits) wait(id string) chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.waiters[id]
	if !ok {
		ch = make(chan struct{})
		e.waiters[id] = ch
	}
	return ch
}

func (e *exits) done(id string) {
	ch := e.wait(id)
	e.mu.Lock()
	delete(e.waiters, id)
	e.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// subscriber is one GetContainerEvents client on its own connection.
type subscriber struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	lat []sampleLat
}

// sampleLat is one delivery: exit to receipt, and its two parts, exit to
// the journal's record (the exit monitor and the durable append) and
// record to receipt (the fan-out).
type sampleLat struct{ total, journal, fanout time.Duration }

func subscribe(socket string, notify bool, ex *exits) (*subscriber, error) {
	conn, err := dial(socket)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := runtimeapi.NewRuntimeServiceClient(conn).GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err == nil {
		_, err = stream.Header()
	}
	if err != nil {
		cancel()
		conn.Close()
		return nil, fmt.Errorf("GetContainerEvents: %w", err)
	}
	s := &subscriber{conn: conn, cancel: cancel, done: make(chan struct{})}
	if ex == nil && !notify {
		close(s.done) // stalled: the stream stays open and unread
		return s, nil
	}
	go func() {
		defer close(s.done)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			now := time.Now()
			if m.GetContainerEventType() != runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT || m.GetContainerId() == m.GetPodSandboxStatus().GetId() {
				continue
			}
			for _, st := range m.GetContainersStatuses() {
				if st.GetId() == m.GetContainerId() && st.GetFinishedAt() > 0 {
					exit, rec := time.Unix(0, st.GetFinishedAt()), time.Unix(0, m.GetCreatedAt())
					s.mu.Lock()
					s.lat = append(s.lat, sampleLat{now.Sub(exit), rec.Sub(exit), now.Sub(rec)})
					s.mu.Unlock()
				}
			}
			if notify {
				ex.done(m.GetContainerId())
			}
		}
	}()
	return s, nil
}

func (s *subscriber) reset() { s.mu.Lock(); s.lat = nil; s.mu.Unlock() }

func (s *subscriber) take() []sampleLat {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.lat
	s.lat = nil
	return out
}

func (s *subscriber) close() {
	s.cancel()
	<-s.done
	s.conn.Close()
}

// churn runs o.pods workers for o.duration, each running pod lives: a
// pod, a container that exits after o.runFor, the wait for its exit
// event, removal.
func churn(ctx context.Context, rt runtimeapi.RuntimeServiceClient, ex *exits, o options, phase int) (cycles, failures int) {
	deadline := time.Now().Add(o.duration)
	command := []string{"true"}
	if o.runFor > 0 {
		command = []string{"sleep", strconv.FormatFloat(o.runFor.Seconds(), 'f', -1, 64)}
	}
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range o.pods {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				if err := podLife(ctx, rt, ex, fmt.Sprintf("ev-%d-%d-%d", phase, w, n), command); err != nil {
					if failed.Add(1) <= 3 {
						fmt.Fprintln(os.Stderr, "eventbench: pod life:", err)
					}
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return int(ok.Load()), int(failed.Load())
}

func podLife(ctx context.Context, rt runtimeapi.RuntimeServiceClient, ex *exits, name string, command []string) error {
	pod := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "eventbench", Uid: name},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}},
	}
	p, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod})
	if err != nil {
		return err
	}
	defer func() {
		rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.PodSandboxId})
		rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.PodSandboxId})
	}()
	c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p.PodSandboxId, SandboxConfig: pod,
		Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "exit"}, Image: &runtimeapi.ImageSpec{Image: image}, Command: command}})
	if err != nil {
		return err
	}
	exited := ex.wait(c.ContainerId)
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(2 * time.Minute):
		return errors.New("no exit event for " + c.ContainerId + " within 2 minutes")
	}
}

func dial(socket string) (*grpc.ClientConn, error) {
	return grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// setUp starts the registry and the daemon in a temporary directory.
func setUp(o options) (*world, error) {
	dir, err := os.MkdirTemp("", "eventbench")
	if err != nil {
		return nil, err
	}
	w := &world{dir: dir, socket: filepath.Join(dir, "state", "logbook.sock")}
	addrFile := filepath.Join(dir, "registry.addr")
	w.registry = exec.Command(o.testimages, "serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile)
	if err := w.registry.Start(); err != nil {
		return nil, err
	}
	var addr string
	for deadline := time.Now().Add(60 * time.Second); ; {
		if b, err := os.ReadFile(addrFile); err == nil && strings.TrimSpace(string(b)) != "" {
			addr = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			w.tearDown()
			return nil, errors.New("the test registry did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	netDir := filepath.Join(dir, "net.d") // empty: host-network pods need none
	os.MkdirAll(netDir, 0o755)
	cfg, _ := json.Marshal(map[string]any{
		"root": filepath.Join(dir, "root"), "state": filepath.Join(dir, "state"), "socket": w.socket,
		"metrics-address": "", "enable-pod-events": true, "cni-conf-dir": netDir, "log-level": "warn",
		"registry-mirrors": map[string][]string{"registry.k8s.io": {"http://" + addr}},
	})
	cfgPath := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "logbookd.log"))
	if err != nil {
		return nil, err
	}
	w.daemon = exec.Command(o.logbookd, "--config", cfgPath)
	w.daemon.Stdout, w.daemon.Stderr = logf, logf
	if err := w.daemon.Start(); err != nil {
		return nil, err
	}
	w.daemonCh = make(chan error, 1)
	go func() { w.daemonCh <- w.daemon.Wait() }()
	conn, err := dial(w.socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	for deadline := time.Now().Add(60 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := runtimeapi.NewRuntimeServiceClient(conn).Version(ctx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return w, nil
		}
		if time.Now().After(deadline) {
			w.tearDown()
			return nil, fmt.Errorf("logbookd does not answer (log %s): %w", logf.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tearDown removes every pod, stops the daemon and the registry, reaps
// what came to this process, and removes the directory.
func (w *world) tearDown() {
	if w.daemon != nil && w.daemon.Process != nil {
		if conn, err := dial(w.socket); err == nil {
			rt := runtimeapi.NewRuntimeServiceClient(conn)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if l, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err == nil {
				for _, p := range l.GetItems() {
					rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.GetId()})
				}
			}
			cancel()
			conn.Close()
		}
		w.daemon.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.daemonCh:
		case <-time.After(30 * time.Second):
			w.daemon.Process.Kill()
			<-w.daemonCh
		}
	}
	if w.registry != nil && w.registry.Process != nil {
		w.registry.Process.Signal(syscall.SIGTERM)
		w.registry.Wait()
	}
	for {
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 || err != nil {
			break
		}
	}
	os.RemoveAll(w.dir)
}
