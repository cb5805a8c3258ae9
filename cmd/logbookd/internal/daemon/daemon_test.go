package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/criserver"
	"github.com/logbook-cri/logbook/journal/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// testConfig gives a daemon its own root, state and socket under dir, and
// no metrics endpoint.
func testConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	c := config.Default()
	c.Root, c.State = filepath.Join(dir, "root"), filepath.Join(dir, "state")
	c.MetricsAddress = ""
	if err := c.Finish(exec.LookPath); err != nil {
		t.Skipf("no OCI runtime on this machine: %v", err)
	}
	return c
}

type running struct {
	socket      string
	metricsAddr net.Addr
	stop        func() error // cancels and returns Run's error
}

// start runs a daemon in the background and waits until it serves (or has
// failed, in which case its error is returned).
func start(t *testing.T, cfg *config.Config) (*running, error) {
	t.Helper()
	return startWith(t, cfg, 0)
}

// startWith is start with a graceful-stop bound.
func startWith(t *testing.T, cfg *config.Config, shutdownTimeout time.Duration) (*running, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{}
	serving := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Config:          cfg,
			Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
			Version:         "test",
			ShutdownTimeout: shutdownTimeout,
			Serving: func(socket string, metricsAddr net.Addr) {
				r.socket, r.metricsAddr = socket, metricsAddr
				close(serving)
			},
		})
	}()
	select {
	case <-serving:
	case err := <-done:
		cancel()
		return nil, err
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("daemon neither served nor failed within 30s")
	}
	var stopped bool
	var result error
	r.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { r.stop() })
	return r, nil
}

func version(t *testing.T, socket string) (*runtimeapi.VersionResponse, error) {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return runtimeapi.NewRuntimeServiceClient(conn).Version(ctx, &runtimeapi.VersionRequest{})
}

func TestServeAndShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.MetricsAddress = "127.0.0.1:0"
	d, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := version(t, d.socket)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRuntimeName() != "logbook" || resp.GetRuntimeVersion() != "test" {
		t.Errorf("Version = %v", resp)
	}
	fi, err := os.Stat(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != socketMode {
		t.Errorf("socket mode %v, want a socket with %v", fi.Mode(), os.FileMode(socketMode))
	}
	if _, err := os.Stat(filepath.Join(cfg.Root, JournalName)); err != nil {
		t.Errorf("journal not opened under root: %v", err)
	}

	// The wiring feeds the metrics: the call above and the journal's state
	// are on the endpoint.
	body := get(t, "http://"+d.metricsAddr.String()+"/metrics")
	for _, want := range []string{
		`logbook_cri_requests_total{code="OK",method="runtime.v1.RuntimeService/Version"} 1`,
		"logbook_journal_last_sequence 0",
		// One subscriber: the lifecycle metrics' own follower.
		"logbook_journal_subscribers 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	if err := d.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := os.Lstat(d.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after shutdown: %v", err)
	}
	if _, err := http.Get("http://" + d.metricsAddr.String() + "/metrics"); err == nil {
		t.Error("metrics endpoint still answers after shutdown")
	}
	// Everything is released: the same directories serve again at once.
	d2, err := start(t, cfg)
	if err != nil {
		t.Fatalf("restart on the same directories: %v", err)
	}
	if _, err := version(t, d2.socket); err != nil {
		t.Fatal(err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	// A socket file nobody listens on, as a SIGKILLed daemon leaves it.
	if err := os.MkdirAll(filepath.Dir(cfg.Socket), 0o711); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if fi, err := os.Lstat(cfg.Socket); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("no stale socket to test with: %v", err)
	}

	d, err := start(t, cfg)
	if err != nil {
		t.Fatalf("a stale socket stopped the daemon: %v", err)
	}
	if _, err := version(t, d.socket); err != nil {
		t.Fatal(err)
	}
}

func TestLiveSocketRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := os.MkdirAll(filepath.Dir(cfg.Socket), 0o711); err != nil {
		t.Fatal(err)
	}
	// Another daemon (without logbook's lock) serves on the path.
	ln, err := net.Listen("unix", cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	_, err = start(t, cfg)
	if !errors.Is(err, ErrSocketInUse) || !strings.Contains(err.Error(), cfg.Socket) {
		t.Fatalf("err = %v, want ErrSocketInUse naming the socket", err)
	}
	// The other daemon's socket is untouched and still answers.
	conn, err := net.Dial("unix", cfg.Socket)
	if err != nil {
		t.Fatalf("the live socket was disturbed: %v", err)
	}
	conn.Close()
}

func TestNotSocketRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := os.MkdirAll(filepath.Dir(cfg.Socket), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Socket, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := start(t, cfg)
	if !errors.Is(err, ErrNotSocket) {
		t.Fatalf("err = %v, want ErrNotSocket", err)
	}
	if b, err := os.ReadFile(cfg.Socket); err != nil || string(b) != "precious" {
		t.Errorf("the file at the socket path was touched: %q, %v", b, err)
	}
}

// TestSecondDaemonRefused: a second daemon sharing the state directory, the
// root directory or the socket of a running one refuses to start, naming
// the lock file; the first keeps serving.
func TestSecondDaemonRefused(t *testing.T) {
	base := t.TempDir()
	first := testConfig(t, filepath.Join(base, "a"))
	d, err := start(t, first)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		edit     func(c *config.Config)
		lockPath string
	}{
		{"same state", func(c *config.Config) { c.State = first.State; c.Socket = filepath.Join(base, "b.sock") },
			filepath.Join(first.State, LockName)},
		{"same root", func(c *config.Config) { c.Root = first.Root }, filepath.Join(first.Root, LockName)},
		{"same socket", func(c *config.Config) { c.Socket = first.Socket }, first.Socket + ".lock"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			second := testConfig(t, filepath.Join(base, "b"+string(rune('0'+i))))
			tc.edit(second)
			_, err := start(t, second)
			if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), tc.lockPath) {
				t.Fatalf("err = %v, want ErrLocked naming %s", err, tc.lockPath)
			}
			if !strings.Contains(err.Error(), "pid ") {
				t.Errorf("err = %v does not name the holder's pid", err)
			}
		})
	}
	if _, err := version(t, d.socket); err != nil {
		t.Errorf("the first daemon stopped serving: %v", err)
	}
}

// TestSideBySide: two daemons with their own root, state and socket run at
// the same time.
func TestSideBySide(t *testing.T) {
	base := t.TempDir()
	a, err := start(t, testConfig(t, filepath.Join(base, "a")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := start(t, testConfig(t, filepath.Join(base, "b")))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*running{a, b} {
		if _, err := version(t, d.socket); err != nil {
			t.Errorf("%s: %v", d.socket, err)
		}
	}
}

// TestStartupFailureReleases: a daemon that fails half-way (here: the
// metrics port is taken) releases what it took, so a retry succeeds.
func TestStartupFailureReleases(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, t.TempDir())
	cfg.MetricsAddress = busy.Addr().String()
	if _, err := start(t, cfg); err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Fatalf("err = %v, want a metrics listen error", err)
	}
	if _, err := os.Lstat(cfg.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed start left its socket: %v", err)
	}
	busy.Close()
	d, err := start(t, cfg)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if _, err := version(t, d.socket); err != nil {
		t.Fatal(err)
	}
}

// TestStopBounded: an in-flight call that does not end on its own (a health
// Watch stream) delays a graceful stop by at most the bound; calls that end
// do not trigger it.
func TestStopBounded(t *testing.T) {
	serve := func() (*grpc.Server, string, chan error) {
		sock := filepath.Join(t.TempDir(), "s.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		g := grpc.NewServer()
		healthpb.RegisterHealthServer(g, health.NewServer())
		served := make(chan error, 1)
		go func() { served <- g.Serve(ln) }()
		return g, sock, served
	}
	logger := slog.New(slog.DiscardHandler)

	g, _, served := serve()
	if end, _ := stopServer(g, served, time.Minute, new(criserver.UnaryCalls), logger); end != stopGraceful {
		t.Errorf("an idle server's stop ended %d, want graceful", end)
	}

	g, sock, served := serve()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	watch, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil { // the stream is open on the server
		t.Fatal(err)
	}
	if end, _ := stopServer(g, served, 200*time.Millisecond, nil, logger); end != stopTimedOut {
		t.Errorf("a stream that never ends: the stop ended %d, want timed out", end)
	}
	if _, err := watch.Recv(); err == nil {
		t.Error("the stream survived the stop")
	}
}

// TestStopCutsUnreadStreams: a stream whose client does not read does not
// hold a stop for the whole timeout: once no unary call is in flight, it
// is cut after streamGrace. A unary call in flight still gets its time.
func TestStopCutsUnreadStreams(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	calls := new(criserver.UnaryCalls)
	g := grpc.NewServer(criserver.ServerOptions(slog.New(slog.DiscardHandler), nil, nil, calls)...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(g, hs)
	served := make(chan error, 1)
	go func() { served <- g.Serve(ln) }()

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	watch, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	// The timeout is far beyond the grace: a stop that ends by it failed.
	if end, _ := stopServer(g, served, 10*time.Minute, calls, slog.New(slog.DiscardHandler)); end != stopStreamsCut {
		t.Errorf("the stop ended %d, want the streams cut", end)
	}
	if _, err := watch.Recv(); err == nil {
		t.Error("the stream survived the stop")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShutdownEndsStreams: a journal tail (a stream that never ends on its
// own) is ended by the shutdown, which therefore completes without waiting
// for the graceful-stop bound.
func TestShutdownEndsStreams(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	d, err := startWith(t, cfg, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("unix://"+d.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	j := remote.NewClient(conn)
	first, last, err := j.Bounds(context.Background())
	if err != nil || first != 1 || last != 0 {
		t.Fatalf("Bounds over the socket = %d, %d, %v; want an empty journal", first, last, err)
	}
	cursor, err := j.Tail(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cursor.Close()
	next := make(chan error, 1)
	go func() {
		_, err := cursor.Next(context.Background())
		next <- err
	}()

	stopped := make(chan error, 1)
	go func() { stopped <- d.stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown waited for an open tail (the bound is an hour)")
	}
	if err := <-next; err == nil {
		t.Error("the tail delivered a record from an empty journal")
	}
}
