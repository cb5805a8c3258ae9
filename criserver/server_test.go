package criserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// testConfig is a finished configuration whose runtime-path is the real
// runc of this machine.
func testConfig(t testing.TB) *config.Config {
	t.Helper()
	c := config.Default()
	dir := t.TempDir()
	c.Root, c.State = filepath.Join(dir, "root"), filepath.Join(dir, "state")
	if err := c.Finish(exec.LookPath); err != nil {
		t.Skipf("no OCI runtime on this machine: %v", err)
	}
	return c
}

type clients struct {
	runtime runtimeapi.RuntimeServiceClient
	image   runtimeapi.ImageServiceClient
}

// serve starts the CRI services with the daemon's server options on a unix
// socket in a temporary directory and returns real generated clients.
func serve(t testing.TB, d Deps, logger *slog.Logger, obs RequestObserver) clients {
	t.Helper()
	c, _ := serveWith(t, d, logger, obs, nil, nil)
	return c
}

// serveWith is serve with a shutdown context and extra services; it also
// returns the connection.
func serveWith(t testing.TB, d Deps, logger *slog.Logger, obs RequestObserver, shutdown context.Context, extra func(*grpc.Server)) (clients, *grpc.ClientConn) {
	t.Helper()
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "cri.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(ServerOptions(logger, obs, shutdown, nil)...)
	s.Register(g)
	if extra != nil {
		extra(g)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(ln) }()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		g.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return clients{runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)}, conn
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestVersion(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t), BuildVersion: "1.2.3-test"}, discard(), nil)
	resp, err := c.runtime.Version(context.Background(), &runtimeapi.VersionRequest{Version: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	want := &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "logbook", RuntimeVersion: "1.2.3-test", RuntimeApiVersion: "v1"}
	if resp.String() != want.String() {
		t.Errorf("Version = %v, want %v", resp, want)
	}
}

func TestStatusDefaults(t *testing.T) {
	cfg := testConfig(t)
	c := serve(t, Deps{Config: cfg}, discard(), nil)
	resp, err := c.runtime.Status(context.Background(), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	rt := condition(t, resp, runtimeapi.RuntimeReady)
	if !rt.GetStatus() {
		t.Errorf("RuntimeReady = false (%s: %s) with runc at %s", rt.GetReason(), rt.GetMessage(), cfg.RuntimePath)
	}
	nw := condition(t, resp, runtimeapi.NetworkReady)
	if nw.GetStatus() || nw.GetReason() != "NetworkPluginNotReady" || !strings.Contains(nw.GetMessage(), "not configured") {
		t.Errorf("NetworkReady = %v", nw)
	}
	if len(resp.GetRuntimeHandlers()) != 1 || resp.GetRuntimeHandlers()[0].GetName() != "" || resp.GetFeatures() == nil {
		t.Errorf("handlers %v features %v, want the default handler", resp.GetRuntimeHandlers(), resp.GetFeatures())
	}

	// Verbose info: every value is JSON; the config is the effective one.
	var got config.Config
	if err := json.Unmarshal([]byte(resp.GetInfo()["config"]), &got); err != nil {
		t.Fatalf("info.config: %v", err)
	}
	if !reflect.DeepEqual(&got, cfg) {
		t.Errorf("info.config = %+v, want %+v", got, *cfg)
	}
	var runtimeInfo struct {
		Runtime OCIRuntime `json:"runtime"`
		Error   string     `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.GetInfo()["runtime"]), &runtimeInfo); err != nil {
		t.Fatalf("info.runtime: %v", err)
	}
	if runtimeInfo.Runtime.Path != cfg.RuntimePath || runtimeInfo.Runtime.Version == "" || runtimeInfo.Error != "" {
		t.Errorf("info.runtime = %+v", runtimeInfo)
	}
	if !json.Valid([]byte(resp.GetInfo()["podCIDRs"])) {
		t.Errorf("info.podCIDRs = %q is not JSON", resp.GetInfo()["podCIDRs"])
	}

	// Not verbose: no info.
	resp, err = c.runtime.Status(context.Background(), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetInfo()) != 0 {
		t.Errorf("non-verbose Status has info %v", resp.GetInfo())
	}
}

// TestStatusRuntimeBroken: a runtime binary that fails makes RuntimeReady
// false with the reason in the message.
func TestStatusRuntimeBroken(t *testing.T) {
	cfg := testConfig(t)
	broken := filepath.Join(t.TempDir(), "runc")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'cannot run' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.RuntimePath = broken
	c := serve(t, Deps{Config: cfg}, discard(), nil)
	resp, err := c.runtime.Status(context.Background(), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	rt := condition(t, resp, runtimeapi.RuntimeReady)
	if rt.GetStatus() || rt.GetReason() != "OCIRuntimeNotReady" || !strings.Contains(rt.GetMessage(), "cannot run") {
		t.Errorf("RuntimeReady = %v, want false with the runtime's complaint", rt)
	}
	if !strings.Contains(resp.GetInfo()["runtime"], "cannot run") {
		t.Errorf("info.runtime = %s, want the error", resp.GetInfo()["runtime"])
	}
}

type fakeNetwork struct {
	mu     sync.Mutex
	ready  bool
	cidrs  [][]string
	failed error
}

func (n *fakeNetwork) set(ready bool, failed error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ready, n.failed = ready, failed
}

func (n *fakeNetwork) got() [][]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.cidrs)
}

func (n *fakeNetwork) NetworkStatus() (bool, string, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ready {
		return true, "", ""
	}
	return false, "TestReason", "test message"
}

func (n *fakeNetwork) UpdatePodCIDRs(_ context.Context, cidrs []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failed != nil {
		return n.failed
	}
	n.cidrs = append(n.cidrs, cidrs)
	return nil
}

type fakeCapabilities struct{}

func (fakeCapabilities) RuntimeHandlers() []*runtimeapi.RuntimeHandler {
	return []*runtimeapi.RuntimeHandler{
		{Name: "", Features: &runtimeapi.RuntimeHandlerFeatures{RecursiveReadOnlyMounts: true}},
		{Name: "crun", Features: &runtimeapi.RuntimeHandlerFeatures{UserNamespaces: true}},
	}
}

func (fakeCapabilities) RuntimeFeatures() *runtimeapi.RuntimeFeatures {
	return &runtimeapi.RuntimeFeatures{SupplementalGroupsPolicy: true}
}

type fakeProbe struct{ err error }

func (p fakeProbe) Probe(context.Context) (OCIRuntime, error) {
	return OCIRuntime{Name: "fake", Version: "9"}, p.err
}

// TestStatusPluggedIn: the interfaces of Deps are what Status reports.
func TestStatusPluggedIn(t *testing.T) {
	net := &fakeNetwork{ready: true}
	c := serve(t, Deps{Config: testConfig(t), Network: net, Capabilities: fakeCapabilities{}, Runtime: fakeProbe{}}, discard(), nil)
	resp, err := c.runtime.Status(context.Background(), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !condition(t, resp, runtimeapi.NetworkReady).GetStatus() || !condition(t, resp, runtimeapi.RuntimeReady).GetStatus() {
		t.Errorf("conditions = %v, want both ready", resp.GetStatus().GetConditions())
	}
	if len(resp.GetRuntimeHandlers()) != 2 || resp.GetRuntimeHandlers()[1].GetName() != "crun" ||
		!resp.GetRuntimeHandlers()[0].GetFeatures().GetRecursiveReadOnlyMounts() || !resp.GetFeatures().GetSupplementalGroupsPolicy() {
		t.Errorf("handlers %v features %v", resp.GetRuntimeHandlers(), resp.GetFeatures())
	}
	net.set(false, nil)
	resp, err = c.runtime.Status(context.Background(), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if nw := condition(t, resp, runtimeapi.NetworkReady); nw.GetStatus() || nw.GetReason() != "TestReason" || nw.GetMessage() != "test message" {
		t.Errorf("NetworkReady = %v", nw)
	}
}

func TestRuntimeConfig(t *testing.T) {
	for _, systemd := range []bool{false, true} {
		cfg := testConfig(t)
		cfg.SystemdCgroup = systemd
		c := serve(t, Deps{Config: cfg}, discard(), nil)
		resp, err := c.runtime.RuntimeConfig(context.Background(), &runtimeapi.RuntimeConfigRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want := runtimeapi.CgroupDriver_CGROUPFS
		if systemd {
			want = runtimeapi.CgroupDriver_SYSTEMD
		}
		if got := resp.GetLinux().GetCgroupDriver(); got != want {
			t.Errorf("systemd-cgroup=%v: cgroup driver %v, want %v", systemd, got, want)
		}
	}
}

func TestUpdateRuntimeConfig(t *testing.T) {
	net := &fakeNetwork{}
	c := serve(t, Deps{Config: testConfig(t), Network: net, Runtime: fakeProbe{}}, discard(), nil)
	ctx := context.Background()
	update := func(cidr string) error {
		_, err := c.runtime.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{
			RuntimeConfig: &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: cidr}},
		})
		return err
	}

	_, err := c.runtime.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{})
	assertCode(t, err, codes.InvalidArgument, "runtime_config")
	assertCode(t, update("10.88.0.0/33"), codes.InvalidArgument, "pod_cidr")
	assertCode(t, update("10.88.0.0/16,nonsense"), codes.InvalidArgument, "pod_cidr")
	if err := update(""); err != nil {
		t.Fatalf("empty pod CIDR: %v", err)
	}
	if got := net.got(); len(got) != 0 {
		t.Fatalf("the network got %v from invalid or empty updates", got)
	}
	if err := update("10.88.0.1/16, fd00::/64"); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"10.88.0.0/16", "fd00::/64"}}; !reflect.DeepEqual(net.got(), want) {
		t.Errorf("network got %v, want %v", net.got(), want)
	}
	resp, err := c.runtime.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetInfo()["podCIDRs"]; got != `["10.88.0.0/16","fd00::/64"]` {
		t.Errorf("info.podCIDRs = %s", got)
	}

	// The network's error reaches the client with its code; nothing is
	// recorded.
	net.set(false, fmt.Errorf("plugin said no: %w", ErrInvalidField))
	assertCode(t, update("10.99.0.0/16"), codes.InvalidArgument, "plugin said no")
	resp, _ = c.runtime.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
	if got := resp.GetInfo()["podCIDRs"]; got != `["10.88.0.0/16","fd00::/64"]` {
		t.Errorf("a failed update was recorded: %s", got)
	}

	// A nil request (possible only in-process) is InvalidArgument too.
	s, _ := New(Deps{Config: testConfig(t)})
	_, err = s.Runtime.UpdateRuntimeConfig(ctx, nil)
	if codeOf(err) != codes.InvalidArgument {
		t.Errorf("nil request: %v (code %v)", err, codeOf(err))
	}
}

func TestUnimplemented(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	ctx := context.Background()
	_, err := c.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	assertCode(t, err, codes.Unimplemented, "ListContainers: not implemented yet")
	_, err = c.image.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	assertCode(t, err, codes.Unimplemented, "ListImages: not implemented yet")

	stream, err := c.runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	assertCode(t, err, codes.Unimplemented, "GetContainerEvents: not implemented yet")
}

// TestRequiredFields: the CRI shape is checked before anything else, and the
// error names the field as api.proto spells it.
func TestRequiredFields(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	ctx := context.Background()
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"RunPodSandbox without config", func() error {
			_, err := c.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{})
			return err
		}, "config"},
		{"RunPodSandbox without uid", func() error {
			_, err := c.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
				Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns"}}})
			return err
		}, "config.metadata.uid"},
		{"CreateContainer without image", func() error {
			_, err := c.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: "p", Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: "c"}}})
			return err
		}, "config.image"},
		{"StopContainer without id", func() error {
			_, err := c.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{})
			return err
		}, "container_id"},
		{"ExecSync negative timeout", func() error {
			_, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"true"}, Timeout: -1})
			return err
		}, "timeout"},
		{"Exec tty with stderr", func() error {
			_, err := c.runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"sh"}, Tty: true, Stdout: true, Stderr: true})
			return err
		}, "stderr"},
		{"PullImage without image", func() error {
			_, err := c.image.PullImage(ctx, &runtimeapi.PullImageRequest{})
			return err
		}, "image"},
		{"ImageStatus with empty image", func() error {
			_, err := c.image.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{}})
			return err
		}, "image.image"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertCode(t, tc.call(), codes.InvalidArgument, tc.field)
		})
	}
	// A complete request gets past the shape check.
	_, err := c.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: "c"})
	assertCode(t, err, codes.Unimplemented, "StopContainer")
}

// TestEveryMethodWritten calls every method of both services in-process with
// an empty request: each must answer from its own file (a shape error, its
// own Unimplemented, or a real answer), never from the generated fallback.
func TestEveryMethodWritten(t *testing.T) {
	s, err := New(Deps{Config: testConfig(t), Runtime: fakeProbe{}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(iface reflect.Type, impl any) {
		v := reflect.ValueOf(impl)
		for i := 0; i < iface.NumMethod(); i++ {
			m := iface.Method(i)
			if !m.IsExported() {
				continue
			}
			mt := m.Type
			var args []reflect.Value
			if mt.NumIn() == 2 && mt.In(0) == reflect.TypeFor[context.Context]() {
				args = []reflect.Value{reflect.ValueOf(context.Background()), reflect.New(mt.In(1).Elem())}
			} else { // server stream: (request, stream)
				args = []reflect.Value{reflect.New(mt.In(0).Elem()), reflect.Zero(mt.In(1))}
			}
			out := v.MethodByName(m.Name).Call(args)
			errV := out[len(out)-1]
			if errV.IsNil() {
				continue // a real answer
			}
			err := errV.Interface().(error)
			switch codeOf(err) {
			case codes.InvalidArgument:
			case codes.Unimplemented:
				if !errors.Is(err, ErrNotImplemented) || !strings.Contains(err.Error(), m.Name) {
					t.Errorf("%s: %v: not this package's own Unimplemented", m.Name, err)
				}
			default:
				t.Errorf("%s: unexpected error %v", m.Name, err)
			}
		}
	}
	check(reflect.TypeFor[runtimeapi.RuntimeServiceServer](), s.Runtime)
	check(reflect.TypeFor[runtimeapi.ImageServiceServer](), s.Image)
}

// TestMessageLimit: a request over 16 MiB is refused with ResourceExhausted.
func TestMessageLimit(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	_, err := c.runtime.Version(context.Background(), &runtimeapi.VersionRequest{Version: strings.Repeat("x", MaxMessageSize+1)})
	assertCode(t, err, codes.ResourceExhausted, "")
	// Just under the limit is fine.
	if _, err := c.runtime.Version(context.Background(), &runtimeapi.VersionRequest{Version: strings.Repeat("x", MaxMessageSize-64)}); err != nil {
		t.Errorf("request under the limit: %v", err)
	}
}

type observation struct {
	method, code string
}

type fakeObserver struct {
	mu  sync.Mutex
	obs []observation
}

func (f *fakeObserver) ObserveRequest(method, code string, took time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.obs = append(f.obs, observation{method, code})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInterceptors: every call, unary or stream, is observed and logged by
// the interceptors, with its mapped code; requests are logged at debug level
// without their credentials.
func TestInterceptors(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	obs := &fakeObserver{}
	c := serve(t, Deps{Config: testConfig(t)}, logger, obs)
	ctx := context.Background()

	if _, err := c.runtime.Version(ctx, &runtimeapi.VersionRequest{Version: "0.1.0"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.image.PullImage(ctx, &runtimeapi.PullImageRequest{
		Image: &runtimeapi.ImageSpec{Image: "busybox"},
		Auth:  &runtimeapi.AuthConfig{Username: "alice", Password: "hunter2", Auth: "YWxpY2U6aHVudGVyMg=="},
	})
	assertCode(t, err, codes.Unimplemented, "PullImage")
	stream, err := c.runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("GetContainerEvents delivered an event")
	}

	// The stream's end is observed after the client has seen it; poll.
	want := []observation{
		{"runtime.v1.RuntimeService/Version", "OK"},
		{"runtime.v1.ImageService/PullImage", "Unimplemented"},
		{"runtime.v1.RuntimeService/GetContainerEvents", "Unimplemented"},
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		obs.mu.Lock()
		got := slices.Clone(obs.obs)
		obs.mu.Unlock()
		if reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("observations = %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var calls []map[string]any
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["msg"] == "cri call" {
			calls = append(calls, rec)
		}
	}
	if len(calls) != 3 {
		t.Fatalf("%d call lines, want 3:\n%s", len(calls), logs.String())
	}
	if calls[0]["method"] != "runtime.v1.RuntimeService/Version" || calls[0]["code"] != "OK" || calls[0]["level"] != "DEBUG" || calls[0]["duration"] == nil {
		t.Errorf("Version line = %v", calls[0])
	}
	pull := calls[1]
	if pull["code"] != "Unimplemented" || pull["level"] != "INFO" {
		t.Errorf("PullImage line = %v", pull)
	}
	req, _ := pull["request"].(string)
	if !strings.Contains(req, "busybox") || !strings.Contains(req, "alice") {
		t.Errorf("request not logged: %q", req)
	}
	if strings.Contains(logs.String(), "hunter2") || strings.Contains(logs.String(), "YWxpY2U6aHVudGVyMg==") {
		t.Errorf("credentials in the log:\n%s", logs.String())
	}

	// At info level, successful calls and request bodies are not logged.
	logs = syncBuffer{}
	infoLogger := slog.New(slog.NewJSONHandler(&logs, nil))
	c = serve(t, Deps{Config: testConfig(t)}, infoLogger, nil)
	if _, err := c.runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Fatal(err)
	}
	_, _ = c.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{})
	out := logs.String()
	if strings.Contains(out, "Version") || !strings.Contains(out, "StopContainer") || strings.Contains(out, `"request"`) {
		t.Errorf("info-level log:\n%s", out)
	}
}

func TestPanicRecovered(t *testing.T) {
	var logs syncBuffer
	i := &interceptor{logger: slog.New(slog.NewTextHandler(&logs, nil)), obs: &fakeObserver{}, shutdown: context.Background(), calls: new(UnaryCalls)}
	_, err := i.unary(context.Background(), &runtimeapi.VersionRequest{}, &grpc.UnaryServerInfo{FullMethod: "/runtime.v1.RuntimeService/Version"},
		func(context.Context, any) (any, error) { panic("boom") })
	assertCode(t, err, codes.Internal, "boom")
	if !strings.Contains(logs.String(), "panicked") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
	err = i.stream(nil, fakeServerStream{}, &grpc.StreamServerInfo{FullMethod: "/x/Y"},
		func(any, grpc.ServerStream) error { panic("stream boom") })
	assertCode(t, err, codes.Internal, "stream boom")
}

type fakeServerStream struct{ grpc.ServerStream }

func (fakeServerStream) Context() context.Context { return context.Background() }

func condition(t *testing.T, resp *runtimeapi.StatusResponse, typ string) *runtimeapi.RuntimeCondition {
	t.Helper()
	for _, c := range resp.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	t.Fatalf("no %s condition in %v", typ, resp.GetStatus())
	return nil
}

func assertCode(t *testing.T, err error, want codes.Code, mention string) {
	t.Helper()
	s, ok := status.FromError(err)
	if !ok || s.Code() != want {
		t.Errorf("err = %v, want code %v", err, want)
		return
	}
	if !strings.Contains(s.Message(), mention) {
		t.Errorf("message %q does not mention %q", s.Message(), mention)
	}
}

// TestStreamsEndAtShutdown: when the daemon starts shutting down, open
// streams (which never end on their own) end with Unavailable, so a
// graceful stop does not wait for them; unary calls are unaffected.
func TestStreamsEndAtShutdown(t *testing.T) {
	shutdown, begin := context.WithCancel(context.Background())
	defer begin()
	obs := &fakeObserver{}
	c, conn := serveWith(t, Deps{Config: testConfig(t), Runtime: fakeProbe{}}, discard(), obs, shutdown, func(g *grpc.Server) {
		healthpb.RegisterHealthServer(g, health.NewServer())
	})
	ctx := context.Background()
	watch, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil { // the stream is open on the server
		t.Fatal(err)
	}
	begin()
	_, err = watch.Recv()
	assertCode(t, err, codes.Unavailable, "shutting down")
	if _, err := c.runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Errorf("unary call after shutdown began: %v", err)
	}

	// A stream the client cancels is still the client's Canceled.
	shutdown2 := context.Background()
	_, conn2 := serveWith(t, Deps{Config: testConfig(t), Runtime: fakeProbe{}}, discard(), nil, shutdown2, func(g *grpc.Server) {
		healthpb.RegisterHealthServer(g, health.NewServer())
	})
	cctx, cancel := context.WithCancel(ctx)
	watch, err = healthpb.NewHealthClient(conn2).Watch(cctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := watch.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("client-cancelled stream: %v, want Canceled", err)
	}
}

// TestUnaryCallsIdle: Idle is closed only while no unary call is in
// flight, and wakes its waiters when the last one ends.
func TestUnaryCallsIdle(t *testing.T) {
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	var u UnaryCalls
	if !closed(u.Idle()) {
		t.Fatal("Idle with no call in flight is not closed")
	}
	u.begin()
	u.begin()
	idle := u.Idle()
	if closed(idle) {
		t.Fatal("Idle closed with two calls in flight")
	}
	u.end()
	if closed(idle) {
		t.Fatal("Idle closed with one call in flight")
	}
	u.end()
	if !closed(idle) {
		t.Fatal("Idle not closed when the last call ended")
	}
}
