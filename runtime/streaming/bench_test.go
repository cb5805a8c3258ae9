package streaming_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/criserver"
	"github.com/logbook-cri/logbook/criserver/streamserver"
	"github.com/logbook-cri/logbook/runtime/container/containertest"
	"github.com/logbook-cri/logbook/runtime/streaming"
)

// benchEnv is a running container behind the CRI services on a unix
// socket (criserver with its interceptors, the exec service, the streaming
// server), and a client with a kubelet's 16 MiB receive limit.
type benchEnv struct {
	id       string
	runcRoot string
	rt       runtimeapi.RuntimeServiceClient
	srv      *streamserver.Server
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	e := containertest.New(b)
	_, id := running(b, e, nil, "sleep", "100000")
	svc, err := streaming.New(streaming.Config{Layout: e.Layout, Projection: e.Store, Runc: e.Runc})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := streamserver.Listen(streamserver.Config{Addr: "127.0.0.1:0", Runtime: svc})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close(); svc.Close() })
	cfg := config.Default()
	cfg.Root, cfg.State = filepath.Join(e.Dir, "cri-root"), filepath.Join(e.Dir, "cri-state")
	cri, err := criserver.New(criserver.Deps{Config: cfg, Exec: svc, Streams: srv})
	if err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(e.Dir, "cri.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	g := grpc.NewServer(criserver.ServerOptions(e.Log, nil, context.Background(), nil)...)
	cri.Register(g)
	go g.Serve(ln)
	b.Cleanup(g.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return &benchEnv{id: id, runcRoot: e.Layout.RuncRoot(), rt: runtimeapi.NewRuntimeServiceClient(conn), srv: srv}
}

// BenchmarkExecSyncTrue: ExecSync of `true` over the CRI socket, the cost
// of a kubelet's exec probe; p50 and p90 in ms, and the p50 of a bare
// `runc exec` of the same container as the baseline.
func BenchmarkExecSyncTrue(b *testing.B) {
	env := newBenchEnv(b)
	ctx := context.Background()
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		resp, err := env.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: env.id, Cmd: []string{"true"}, Timeout: 10})
		if err != nil || resp.GetExitCode() != 0 {
			b.Fatalf("ExecSync true = %v, %v", resp, err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[len(took)*9/10]), "p90-ms")

	// The baseline, in the same run: a bare `runc exec` of the same
	// container, as a shell would type it.
	bare := make([]time.Duration, 0, b.N)
	for range b.N {
		start := time.Now()
		if out, err := exec.Command("runc", "--root", env.runcRoot, "exec", env.id, "true").CombinedOutput(); err != nil {
			b.Fatalf("runc exec: %v: %s", err, out)
		}
		bare = append(bare, time.Since(start))
	}
	slices.Sort(bare)
	b.ReportMetric(ms(bare[len(bare)/2]), "runc-p50-ms")
}

// BenchmarkExecSync100MiB: a command writing 100 MiB of stdout through
// ExecSync over the CRI socket. The response carries the budget; the rest
// is read and dropped. MiB/s is the command's 100 MiB over the call's
// duration; kept-MiB what the response carried.
func BenchmarkExecSync100MiB(b *testing.B) {
	env := newBenchEnv(b)
	ctx := context.Background()
	var kept int
	b.ResetTimer()
	for range b.N {
		resp, err := env.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: env.id,
			Cmd: []string{"dd", "if=/dev/zero", "bs=1048576", "count=100"}, Timeout: 60})
		if err != nil || resp.GetExitCode() != 0 {
			b.Fatalf("ExecSync dd = %v", err)
		}
		kept = len(resp.GetStdout()) + len(resp.GetStderr())
	}
	b.StopTimer()
	b.ReportMetric(100*float64(b.N)/b.Elapsed().Seconds(), "MiB/s")
	b.ReportMetric(float64(kept)/(1<<20), "kept-MiB")
}

// BenchmarkExec100MiB: the same 100 MiB through a streaming exec: Exec
// over the CRI socket for the URL, then client-go's SPDY executor (as
// kubectl and crictl use it) reading all of stdout.
func BenchmarkExec100MiB(b *testing.B) {
	env := newBenchEnv(b)
	ctx := context.Background()
	var got int64
	b.ResetTimer()
	for range b.N {
		resp, err := env.rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: env.id,
			Cmd: []string{"dd", "if=/dev/zero", "bs=1048576", "count=100"}, Stdout: true})
		if err != nil {
			b.Fatal(err)
		}
		u, _ := url.Parse(resp.GetUrl())
		ex, err := remotecommand.NewSPDYExecutor(&rest.Config{}, "POST", u)
		if err != nil {
			b.Fatal(err)
		}
		c := &counter{}
		if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: c}); err != nil {
			b.Fatal(err)
		}
		if c.n != 100<<20 {
			b.Fatalf("received %d bytes, want 100 MiB", c.n)
		}
		got = c.n
	}
	b.StopTimer()
	b.ReportMetric(100*float64(b.N)/b.Elapsed().Seconds(), "MiB/s")
	b.ReportMetric(float64(got)/(1<<20), "received-MiB")
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

var _ io.Writer = (*counter)(nil)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
