package streaming_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/container/containertest"
	"github.com/logbook-cri/logbook/runtime/shim"
	"github.com/logbook-cri/logbook/runtime/streaming"
)

func TestMain(m *testing.M) { containertest.Main(m) }

// cuts counts ExecOutputCut calls by stream.
type cuts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *cuts) ExecOutputCut(stream string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[stream]++
}

func (c *cuts) get(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[stream]
}

// newService builds the service over an Env, closed at cleanup.
func newService(t *testing.T, e *containertest.Env, m streaming.Metrics) *streaming.Service {
	t.Helper()
	s, err := streaming.New(streaming.Config{Layout: e.Layout, Projection: e.Store, Runc: e.Runc, Metrics: m, Logger: e.Log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// running creates and starts a container in a new pod.
func running(t testing.TB, e *containertest.Env, edit func(*runtimeapi.ContainerConfig), cmd ...string) (sandboxID, id string) {
	t.Helper()
	sandboxID = e.RunPod(e.PodConfig("streaming"))
	cfg := e.ContainerConfig("c", cmd...)
	if edit != nil {
		edit(cfg)
	}
	id = e.Create(sandboxID, cfg)
	e.Start(id)
	return sandboxID, id
}

func TestExecSync(t *testing.T) {
	e := containertest.New(t)
	s := newService(t, e, nil)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("exec"))
	cfg := e.ContainerConfig("c", "sleep", "1000")
	cfg.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{RunAsUser: &runtimeapi.Int64Value{Value: 1000}}
	cfg.Envs = []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("hi")}}
	cfg.WorkingDir = "/tmp"
	id := e.Create(sb, cfg)

	if _, err := s.ExecSync(ctx, id, []string{"true"}, 0); !errors.Is(err, runtime.ErrFailedPrecondition) || !errors.Is(err, streaming.ErrNotRunning) {
		t.Errorf("exec before start: %v, want FailedPrecondition", err)
	}
	e.Start(id)

	t.Run("runs as the container's process", func(t *testing.T) {
		res, err := s.ExecSync(ctx, id, []string{"sh", "-c", "echo $(id -u) $GREETING $(pwd); echo oops >&2; exit 4"}, 0)
		if err != nil || string(res.Stdout) != "1000 hi /tmp\n" || string(res.Stderr) != "oops\n" || res.ExitCode != 4 || res.Cut {
			t.Errorf("exec = %q %q %d cut=%v, %v", res.Stdout, res.Stderr, res.ExitCode, res.Cut, err)
		}
	})
	t.Run("by unique prefix", func(t *testing.T) {
		res, err := s.ExecSync(ctx, id[:12], []string{"echo", "-n", "hello"}, 0)
		if err != nil || string(res.Stdout) != "hello" || len(res.Stderr) != 0 {
			t.Errorf("exec = %q %q, %v", res.Stdout, res.Stderr, err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if _, err := s.ExecSync(ctx, id, nil, 0); !errors.Is(err, runtime.ErrInvalidArgument) || !errors.Is(err, streaming.ErrEmptyCommand) {
			t.Errorf("empty command: %v, want InvalidArgument", err)
		}
		if _, err := s.ExecSync(ctx, runtime.NewID(), []string{"true"}, 0); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("unknown container: %v, want NotFound", err)
		}
	})
	t.Run("timeout kills the process and its children", func(t *testing.T) {
		start := time.Now()
		_, err := s.ExecSync(ctx, id, []string{"sh", "-c", "sleep 4322 & sleep 4321"}, time.Second)
		took := time.Since(start)
		if !errors.Is(err, streaming.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("exec past its timeout: %v, want ErrTimeout and DeadlineExceeded", err)
		}
		if took < time.Second || took > 5*time.Second {
			t.Errorf("the timed out exec returned after %v, want about 1s", took)
		}
		res, err := s.ExecSync(ctx, id, []string{"ps", "-o", "args"}, 0)
		if err != nil || strings.Contains(string(res.Stdout), "432") {
			t.Errorf("processes left after the timeout:\n%s(%v)", res.Stdout, err)
		}
	})
	t.Run("exited container", func(t *testing.T) {
		if err := e.Containers.StopContainer(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ExecSync(ctx, id, []string{"true"}, 0); !errors.Is(err, runtime.ErrFailedPrecondition) {
			t.Errorf("exec into an exited container: %v, want FailedPrecondition", err)
		}
	})
}

// TestExecSyncOutputIsCappedInFlatMemory: a command writing 2 GiB to
// stdout runs to its end, unblocked; the response carries what the budget
// keeps; the cut is counted; and the daemon's heap never grows by more
// than a few budgets (what is kept, its copy into the response, garbage
// the collector has not reached yet), however much is written: 2 GiB kept
// would show as gigabytes.
func TestExecSyncOutputIsCappedInFlatMemory(t *testing.T) {
	e := containertest.New(t)
	m := &cuts{}
	s := newService(t, e, m)
	ctx := context.Background()
	_, id := running(t, e, nil, "sleep", "1000")

	goruntime.GC()
	var before goruntime.MemStats
	goruntime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms goruntime.MemStats
		for {
			goruntime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	res, err := s.ExecSync(ctx, id, []string{"dd", "if=/dev/zero", "bs=1048576", "count=2048"}, time.Minute)
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exec = %d, %v", res.ExitCode, err)
	}
	if !strings.Contains(string(res.Stderr), "2048+0 records out") {
		t.Errorf("dd did not finish its 2 GiB: stderr %q", res.Stderr)
	}
	if got := len(res.Stdout) + len(res.Stderr); got != streaming.OutputBudget {
		t.Errorf("the response carries %d bytes, want the whole budget %d", got, streaming.OutputBudget)
	}
	if !res.Cut || res.Usage[0].Written != 2<<30 || res.Usage[0].Dropped() != 2<<30-int64(len(res.Stdout)) {
		t.Errorf("usage %+v cut=%v", res.Usage, res.Cut)
	}
	if m.get(streaming.StreamStdout) != 1 || m.get(streaming.StreamStderr) != 0 {
		t.Errorf("cuts counted: stdout %d stderr %d, want 1 and 0", m.get(streaming.StreamStdout), m.get(streaming.StreamStderr))
	}
	grew := int64(peak.Load()) - int64(before.HeapAlloc)
	t.Logf("2 GiB through ExecSync in %v; heap grew by at most %d MiB", took, grew>>20)
	if grew > 6*streaming.OutputBudget {
		t.Errorf("the heap grew by %d MiB while the command wrote 2 GiB; want at most %d MiB", grew>>20, 6*streaming.OutputBudget>>20)
	}

	// Both streams over their share: each keeps half.
	res, err = s.ExecSync(ctx, id, []string{"sh", "-c", "dd if=/dev/zero bs=1048576 count=12 2>/dev/null; dd if=/dev/zero bs=1048576 count=12 >&2 2>/dev/null"}, time.Minute)
	if err != nil || len(res.Stdout) != streaming.OutputBudget/2 || len(res.Stderr) != streaming.OutputBudget-streaming.OutputBudget/2 {
		t.Errorf("both streams large: %d + %d bytes, %v; want half the budget each", len(res.Stdout), len(res.Stderr), err)
	}
	if m.get(streaming.StreamStdout) != 2 || m.get(streaming.StreamStderr) != 1 {
		t.Errorf("cuts counted: stdout %d stderr %d, want 2 and 1", m.get(streaming.StreamStdout), m.get(streaming.StreamStderr))
	}
}

func TestConcurrentExecSyncs(t *testing.T) {
	e := containertest.New(t)
	s := newService(t, e, nil)
	_, id := running(t, e, nil, "sleep", "1000")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("exec %d", i)
			res, err := s.ExecSync(context.Background(), id, []string{"sh", "-c", "sleep 0.2; echo " + want + "; echo " + want + " >&2"}, 30*time.Second)
			if err != nil || string(res.Stdout) != want+"\n" || string(res.Stderr) != want+"\n" {
				errs <- fmt.Errorf("exec %d = %q %q, %v", i, res.Stdout, res.Stderr, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExec(t *testing.T) {
	e := containertest.New(t)
	s := newService(t, e, nil)
	ctx := context.Background()
	_, id := running(t, e, nil, "sleep", "1000")

	t.Run("stdin, stdout, stderr, exit code", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code, err := s.Exec(ctx, id, []string{"sh", "-c", "cat; echo err >&2; exit 3"},
			streaming.Streams{Stdin: strings.NewReader("hello\n"), Stdout: &out, Stderr: &errOut})
		if err != nil || code != 3 || out.String() != "hello\n" || errOut.String() != "err\n" {
			t.Errorf("exec = %d, %v; stdout %q stderr %q", code, err, out.String(), errOut.String())
		}
	})
	t.Run("a client that never closes stdin does not hold the exec", func(t *testing.T) {
		inR, inW := io.Pipe()
		defer inW.Close()
		var out bytes.Buffer
		start := time.Now()
		code, err := s.Exec(ctx, id, []string{"echo", "-n", "done"}, streaming.Streams{Stdin: inR, Stdout: &out})
		if err != nil || code != 0 || out.String() != "done" {
			t.Errorf("exec = %d, %v, %q", code, err, out.String())
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("exec returned after %v; its stdin held it", took)
		}
	})
	t.Run("terminal with resize", func(t *testing.T) {
		inR, inW := io.Pipe()
		defer inW.Close()
		out := &syncBuffer{}
		resize := make(chan shim.TermSize, 1)
		type result struct {
			code int
			err  error
		}
		done := make(chan result, 1)
		go func() {
			code, err := s.Exec(ctx, id, []string{"sh"}, streaming.Streams{TTY: true, Stdin: inR, Stdout: out, Resize: resize})
			done <- result{code, err}
		}()
		resize <- shim.TermSize{Width: 123, Height: 45}
		eventually(t, 10*time.Second, "the terminal's size", func() bool {
			io.WriteString(inW, "stty size; tty\n")
			time.Sleep(50 * time.Millisecond)
			return strings.Contains(out.String(), "45 123")
		})
		if !strings.Contains(out.String(), "/dev/pts/") {
			t.Errorf("no terminal: %q", out.String())
		}
		io.WriteString(inW, "exit 7\n")
		select {
		case r := <-done:
			if r.err != nil || r.code != 7 {
				t.Errorf("exec = %d, %v; want 7", r.code, r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the terminal exec did not end")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if _, err := s.Exec(ctx, runtime.NewID(), []string{"true"}, streaming.Streams{}); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("unknown container: %v", err)
		}
		if _, err := s.Exec(ctx, id, nil, streaming.Streams{}); !errors.Is(err, runtime.ErrInvalidArgument) {
			t.Errorf("empty command: %v", err)
		}
	})
	t.Run("close ends running sessions", func(t *testing.T) {
		s2 := newService(t, e, nil)
		done := make(chan error, 1)
		started := &syncBuffer{}
		go func() {
			_, err := s2.Exec(ctx, id, []string{"sh", "-c", "echo up; exec sleep 1000"}, streaming.Streams{Stdout: started})
			done <- err
		}()
		eventually(t, 10*time.Second, "the exec to start", func() bool { return started.String() == "up\n" })
		s2.Close()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("exec ended by Close: %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not end the exec")
		}
		if _, err := s2.ExecSync(ctx, id, []string{"true"}, 0); !errors.Is(err, streaming.ErrClosed) {
			t.Errorf("ExecSync after Close: %v, want ErrClosed", err)
		}
		if _, err := s2.Exec(ctx, id, []string{"cat"}, streaming.Streams{Stdin: strings.NewReader("x")}); !errors.Is(err, streaming.ErrClosed) {
			t.Errorf("Exec after Close: %v, want ErrClosed", err)
		}
	})
}

// attachAndSay attaches with a stdin pipe, writes line, and waits for want
// on stdout; it returns the stdin writer and the attach's result.
func attachAndSay(t *testing.T, s *streaming.Service, id, line, want string) (*io.PipeWriter, <-chan error) {
	t.Helper()
	inR, inW := io.Pipe()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- s.Attach(context.Background(), id, streaming.Streams{Stdin: inR, Stdout: out, Stderr: errOut})
		inR.Close()
	}()
	// The attach is live once the shim relays input; repeat the line
	// until the shell's answer shows.
	eventually(t, 10*time.Second, "the attached shell's answer", func() bool {
		io.WriteString(inW, line)
		time.Sleep(50 * time.Millisecond)
		return strings.Contains(out.String(), want)
	})
	if errOut.String() != "" {
		t.Errorf("stderr %q", errOut.String())
	}
	return inW, done
}

func TestAttach(t *testing.T) {
	e := containertest.New(t)
	s := newService(t, e, nil)
	stdinOnce := func(c *runtimeapi.ContainerConfig) { c.Stdin, c.StdinOnce = true, true }
	_, id := running(t, e, stdinOnce, "sh")

	inW, done := attachAndSay(t, s, id, "echo hello\n", "hello\n")
	// Closing stdin closes the container's (stdin_once): the shell exits,
	// and the attach ends with it.
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("attach: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the attach did not end when the container's stdin closed")
	}
	e.Exited(id, 10*time.Second)
	if err := s.Attach(context.Background(), id, streaming.Streams{Stdout: io.Discard}); !errors.Is(err, runtime.ErrFailedPrecondition) {
		t.Errorf("attach to an exited container: %v, want FailedPrecondition", err)
	}
	if err := s.Attach(context.Background(), runtime.NewID(), streaming.Streams{Stdout: io.Discard}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("attach to an unknown container: %v, want NotFound", err)
	}
}

// TestAttachAfterRestart: a container started before the daemon restarted
// is attached through its shim as before.
func TestAttachAfterRestart(t *testing.T) {
	e := containertest.New(t)
	_, id := running(t, e, func(c *runtimeapi.ContainerConfig) { c.Stdin = true }, "sh")
	e.Restart()
	s := newService(t, e, nil)
	inW, done := attachAndSay(t, s, id, "echo again\n", "again\n")
	inW.Close() // not stdin_once: the container's stdin stays open
	if err := e.Containers.StopContainer(context.Background(), id, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("attach: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the attach did not end with the container")
	}
}

// listenInNetNS opens a TCP listener on 127.0.0.1 inside the network
// namespace at nsPath, from a thread that enters it and is then discarded.
func listenInNetNS(t *testing.T, nsPath string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread ends with this goroutine
		f, err := os.Open(nsPath)
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{nil, err}
			return
		}
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		done <- result{ln, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	return r.ln
}

// serveEcho answers each connection's first line with "echo: <line>",
// then reads to the end (the client's half-close) and says "bye".
func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			line, _ := r.ReadString('\n')
			fmt.Fprintf(c, "echo: %s", line)
			io.Copy(io.Discard, r)
			io.WriteString(c, "bye\n")
		}()
	}
}

// halfCloser is an in-memory stream with a write side that can be closed
// alone, as a port-forward client's data stream is.
type halfCloser struct {
	io.Reader
	io.WriteCloser
}

func (h halfCloser) Close() error { return nil }

// forward runs a port-forward with the given input and returns what came
// back.
func forward(t *testing.T, s *streaming.Service, sandboxID string, port int, input string) (string, error) {
	t.Helper()
	var out syncBuffer
	outR, outW := io.Pipe()
	go io.Copy(&out, outR)
	stream := halfCloser{Reader: strings.NewReader(input), WriteCloser: outW}
	err := s.PortForward(context.Background(), sandboxID, int32(port), stream)
	outW.Close()
	eventually(t, 5*time.Second, "the forwarded answer", func() bool { return err != nil || strings.HasSuffix(out.String(), "bye\n") })
	return out.String(), err
}

func TestPortForward(t *testing.T) {
	e := containertest.New(t)
	s := newService(t, e, nil)
	sbID := e.RunPod(e.PodConfig("pf"))
	sb, _ := e.Store.Sandbox(sbID)
	ln := listenInNetNS(t, sb.NetNSPath)
	go serveEcho(ln)
	port := ln.Addr().(*net.TCPAddr).Port

	got, err := forward(t, s, sbID, port, "hello\n")
	if err != nil || got != "echo: hello\nbye\n" {
		t.Errorf("forward into the pod = %q, %v", got, err)
	}

	t.Run("host network", func(t *testing.T) {
		cfg := e.PodConfig("pf-host")
		cfg.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}
		hostID := e.RunPod(cfg)
		hl, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer hl.Close()
		go serveEcho(hl)
		got, err := forward(t, s, hostID, hl.Addr().(*net.TCPAddr).Port, "host\n")
		if err != nil || got != "echo: host\nbye\n" {
			t.Errorf("forward on the host network = %q, %v", got, err)
		}
	})
	t.Run("the pod's loopback, not the host's", func(t *testing.T) {
		// A port the host listens on is closed in the pod.
		hl, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer hl.Close()
		go serveEcho(hl)
		if _, err := forward(t, s, sbID, hl.Addr().(*net.TCPAddr).Port, "x\n"); !errors.Is(err, unix.ECONNREFUSED) {
			t.Errorf("forward to a port only the host listens on: %v, want connection refused", err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if err := s.PortForward(context.Background(), runtime.NewID(), 80, halfCloser{}); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("unknown sandbox: %v", err)
		}
		if err := s.PortForward(context.Background(), sbID, 0, halfCloser{}); !errors.Is(err, runtime.ErrInvalidArgument) {
			t.Errorf("port 0: %v", err)
		}
		if err := e.Sandboxes.StopPodSandbox(context.Background(), sbID); err != nil {
			t.Fatal(err)
		}
		if err := s.PortForward(context.Background(), sbID, 80, halfCloser{}); !errors.Is(err, runtime.ErrFailedPrecondition) {
			t.Errorf("stopped sandbox: %v", err)
		}
	})
}
