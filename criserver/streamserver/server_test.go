package streamserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/streaming"
)

// fakeRuntime plays the runtime side: its "commands" exercise each
// stream.
type fakeRuntime struct {
	checkErr error
	started  chan struct{} // "block" has started

	mu      sync.Mutex
	execs   int
	blocked error // the context error "block" ended with
}

func (f *fakeRuntime) CheckContainer(ctx context.Context, id string) error { return f.checkErr }
func (f *fakeRuntime) CheckSandbox(ctx context.Context, id string) error   { return f.checkErr }

func (f *fakeRuntime) Exec(ctx context.Context, id string, cmd []string, st streaming.Streams) (int, error) {
	f.mu.Lock()
	f.execs++
	f.mu.Unlock()
	switch cmd[0] {
	case "echo": // stdout and stderr
		fmt.Fprintf(st.Stdout, "%s in %s", strings.Join(cmd[1:], " "), id)
		if st.Stderr != nil {
			io.WriteString(st.Stderr, "to stderr")
		}
		return 0, nil
	case "exit":
		return 3, nil
	case "cat": // stdin to stdout
		io.Copy(st.Stdout, st.Stdin)
		return 0, nil
	case "stty": // the first terminal size
		if !st.TTY {
			return 1, nil
		}
		sz := <-st.Resize
		fmt.Fprintf(st.Stdout, "%d %d", sz.Height, sz.Width)
		return 0, nil
	case "block": // until the session ends
		close(f.started)
		<-ctx.Done()
		f.mu.Lock()
		f.blocked = ctx.Err()
		f.mu.Unlock()
		return -1, ctx.Err()
	}
	return -1, errors.New("unknown fake command")
}

func (f *fakeRuntime) Attach(ctx context.Context, id string, st streaming.Streams) error {
	io.WriteString(st.Stdout, "attached "+id+"\n")
	io.Copy(st.Stdout, st.Stdin)
	return nil
}

// PortForward answers the first line with "pong <port>: <line>".
func (f *fakeRuntime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	line, err := bufio.NewReader(stream).ReadString('\n')
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stream, "pong %d from %s: %s", port, sandboxID, line)
	return err
}

func listen(t *testing.T, f *fakeRuntime, edit func(*Config)) *Server {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", Runtime: f}
	if edit != nil {
		edit(&cfg)
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func execURL(t *testing.T, s *Server, req *runtimeapi.ExecRequest) *url.URL {
	t.Helper()
	resp, err := s.Exec(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(resp.GetUrl())
	if err != nil || !u.IsAbs() || u.Host == "" {
		t.Fatalf("URL %q is not absolute with a host (%v)", resp.GetUrl(), err)
	}
	return u
}

// spdyExec runs a session with client-go's SPDY executor, as kubectl and
// crictl do.
func spdyExec(u *url.URL, o remotecommand.StreamOptions) error {
	ex, err := remotecommand.NewSPDYExecutor(&rest.Config{}, "POST", u)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ex.StreamWithContext(ctx, o)
}

type sizes struct {
	ch chan remotecommand.TerminalSize
}

func (s sizes) Next() *remotecommand.TerminalSize {
	sz, ok := <-s.ch
	if !ok {
		return nil
	}
	return &sz
}

func TestExecOverSPDY(t *testing.T) {
	f := &fakeRuntime{}
	s := listen(t, f, nil)

	t.Run("stdout and stderr", func(t *testing.T) {
		var out, errOut bytes.Buffer
		u := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"echo", "hello"}, Stdout: true, Stderr: true})
		if err := spdyExec(u, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}); err != nil {
			t.Fatal(err)
		}
		if out.String() != "hello in c1" || errOut.String() != "to stderr" {
			t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
		}
	})
	t.Run("exit code", func(t *testing.T) {
		u := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"exit"}, Stdout: true})
		err := spdyExec(u, remotecommand.StreamOptions{Stdout: io.Discard})
		var ee interface{ ExitStatus() int }
		if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
			t.Errorf("exec of a failing command: %v, want exit code 3", err)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		var out bytes.Buffer
		u := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"cat"}, Stdin: true, Stdout: true})
		if err := spdyExec(u, remotecommand.StreamOptions{Stdin: strings.NewReader("piped in"), Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if out.String() != "piped in" {
			t.Errorf("stdout %q", out.String())
		}
	})
	t.Run("terminal size", func(t *testing.T) {
		var out bytes.Buffer
		q := sizes{make(chan remotecommand.TerminalSize, 1)}
		q.ch <- remotecommand.TerminalSize{Width: 132, Height: 43}
		u := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"stty"}, Tty: true, Stdin: true, Stdout: true})
		err := spdyExec(u, remotecommand.StreamOptions{Stdin: strings.NewReader(""), Stdout: &out, Tty: true, TerminalSizeQueue: q})
		close(q.ch)
		if err != nil || out.String() != "43 132" {
			t.Errorf("terminal exec = %q, %v", out.String(), err)
		}
	})
}

func TestExecOverWebSocket(t *testing.T) {
	f := &fakeRuntime{}
	s := listen(t, f, nil)
	var out, errOut bytes.Buffer
	u := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c2", Cmd: []string{"echo", "over", "websocket"}, Stdout: true, Stderr: true})
	// The library serves the v4 channel protocol over WebSocket (not v5,
	// client-go's default).
	ex, err := remotecommand.NewWebSocketExecutorForProtocols(&rest.Config{}, "GET", u.String(), "v4.channel.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "over websocket in c2" || errOut.String() != "to stderr" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestAttachOverSPDY(t *testing.T) {
	f := &fakeRuntime{}
	s := listen(t, f, nil)
	resp, err := s.Attach(context.Background(), &runtimeapi.AttachRequest{ContainerId: "c3", Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(resp.GetUrl())
	var out bytes.Buffer
	if err := spdyExec(u, remotecommand.StreamOptions{Stdin: strings.NewReader("typed"), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "attached c3\ntyped" {
		t.Errorf("attach output %q", out.String())
	}
}

func TestPortForwardOverSPDY(t *testing.T) {
	f := &fakeRuntime{}
	s := listen(t, f, nil)
	resp, err := s.PortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "pod1", Port: []int32{80}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(resp.GetUrl())
	tr, upgrader, err := spdy.RoundTripperFor(&rest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: tr}, "POST", u)
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:80"}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pf.ForwardPorts() }()
	defer func() { close(stop); <-done }()
	<-ready
	ports, err := pf.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	// One session carries many connections.
	for i := range 3 {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "ping %d\n", i)
		got, _ := io.ReadAll(c)
		c.Close()
		if want := fmt.Sprintf("pong 80 from pod1: ping %d\n", i); string(got) != want {
			t.Errorf("connection %d got %q, want %q", i, got, want)
		}
	}
}

func TestURLsAreSingleUse(t *testing.T) {
	f := &fakeRuntime{}
	s := listen(t, f, nil)
	u := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"echo"}, Stdout: true})
	if err := spdyExec(u, remotecommand.StreamOptions{Stdout: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if err := spdyExec(u, remotecommand.StreamOptions{Stdout: io.Discard}); err == nil {
		t.Error("a URL worked twice")
	}
	// Of another kind: an exec token is no attach.
	u2 := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"echo"}, Stdout: true})
	resp, err := http.Get(strings.Replace(u2.String(), "/exec/", "/attach/", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an exec token used for an attach: %s, want 404", resp.Status)
	}
	if f.execs != 1 {
		t.Errorf("%d execs ran, want 1", f.execs)
	}
}

func TestURLsExpire(t *testing.T) {
	f := &fakeRuntime{}
	c := &clock{t: time.Unix(1000, 0)}
	var mu sync.Mutex
	s := listen(t, f, func(cfg *Config) {
		cfg.TokenTTL = time.Minute
		cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return c.now() }
	})
	fresh := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"echo"}, Stdout: true})
	stale := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"echo"}, Stdout: true})
	mu.Lock()
	c.advance(59 * time.Second)
	mu.Unlock()
	if err := spdyExec(fresh, remotecommand.StreamOptions{Stdout: io.Discard}); err != nil {
		t.Fatalf("a URL used within its minute: %v", err)
	}
	mu.Lock()
	c.advance(time.Second)
	mu.Unlock()
	if err := spdyExec(stale, remotecommand.StreamOptions{Stdout: io.Discard}); err == nil {
		t.Error("an expired URL worked")
	}
	if f.execs != 1 {
		t.Errorf("%d execs ran, want 1", f.execs)
	}
}

func TestRequestsAreCheckedAndBounded(t *testing.T) {
	f := &fakeRuntime{checkErr: fmt.Errorf("container x: %w", runtime.ErrNotFound)}
	s := listen(t, f, func(cfg *Config) { cfg.MaxPending = 2 })
	if _, err := s.Exec(context.Background(), &runtimeapi.ExecRequest{ContainerId: "x", Cmd: []string{"echo"}, Stdout: true}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("exec URL for an unknown container: %v", err)
	}
	if _, err := s.Attach(context.Background(), &runtimeapi.AttachRequest{ContainerId: "x", Stdout: true}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("attach URL for an unknown container: %v", err)
	}
	if _, err := s.PortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "x"}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("port-forward URL for an unknown sandbox: %v", err)
	}
	f.checkErr = nil
	for range 2 {
		if _, err := s.Exec(context.Background(), &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"echo"}, Stdout: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Exec(context.Background(), &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"echo"}, Stdout: true}); !errors.Is(err, ErrTooManySessions) {
		t.Errorf("a URL past the bound: %v, want ErrTooManySessions", err)
	}
}

// serverGoroutines lists the goroutines running the server's or the
// library's code.
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:goruntime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "TestCloseEndsSessionsAndWaits") {
			continue
		}
		if strings.Contains(g, "criserver/streamserver.") || strings.Contains(g, "k8s.io/cri-streaming/") {
			out = append(out, g)
		}
	}
	return out
}

func TestCloseEndsSessionsAndWaits(t *testing.T) {
	f := &fakeRuntime{started: make(chan struct{})}
	s, err := Listen(Config{Addr: "127.0.0.1:0", Runtime: f})
	if err != nil {
		t.Fatal(err)
	}
	u := execURL(t, s, &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"block"}, Stdout: true})
	clientDone := make(chan error, 1)
	go func() { clientDone <- spdyExec(u, remotecommand.StreamOptions{Stdout: io.Discard}) }()
	<-f.started

	// An idle port-forward session: a hijacked connection with no stream.
	pfResp, err := s.PortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "p", Port: []int32{80}})
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(pfResp.GetUrl())
	tr, upgrader, _ := spdy.RoundTripperFor(&rest.Config{})
	conn, _, err := spdy.NewDialer(upgrader, &http.Client{Transport: tr}, "POST", pu).Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with sessions open")
	}
	f.mu.Lock()
	blocked := f.blocked
	f.mu.Unlock()
	if !errors.Is(blocked, context.Canceled) {
		t.Errorf("the running exec's context ended with %v, want canceled", blocked)
	}
	select {
	case <-clientDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the client's session did not end at the server's close")
	}
	select {
	case <-conn.CloseChan():
	case <-time.After(10 * time.Second):
		t.Fatal("the idle port-forward connection was not closed")
	}
	if _, err := s.Exec(context.Background(), &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"echo"}, Stdout: true}); !errors.Is(err, ErrClosed) {
		t.Errorf("a URL after Close: %v, want ErrClosed", err)
	}
	// Nothing of the server runs on (the library's goroutines included);
	// the client's own may take a moment to wind down.
	deadline := time.Now().Add(5 * time.Second)
	for left := serverGoroutines(); len(left) > 0; left = serverGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Close:\n%s", strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
