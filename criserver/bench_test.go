package criserver

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/logbook-cri/logbook/metrics"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// benchClients serves with the daemon's real interceptors at info level and
// the real metrics collectors, as logbookd runs by default.
func benchClients(b *testing.B) clients {
	b.Helper()
	cri, err := metrics.NewCRI(metrics.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	return serveB(b, cri)
}

// BenchmarkVersion: the cost of one unary CRI round trip over the unix
// socket, interceptors (error mapping, logging, metrics) included.
func BenchmarkVersion(b *testing.B) {
	c := benchClients(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVersionParallel: the same with concurrent callers.
func BenchmarkVersionParallel(b *testing.B) {
	c := benchClients(b)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStatus: Status runs `runc --version` on every call.
func BenchmarkStatus(b *testing.B) {
	c := benchClients(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.runtime.Status(ctx, &runtimeapi.StatusRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

func serveB(b *testing.B, obs RequestObserver) clients {
	b.Helper()
	return serve(b, Deps{Config: testConfig(b)}, slog.New(slog.DiscardHandler), obs)
}

// BenchmarkInterceptor: what the interceptor adds to a successful call at
// the default log level (info): error mapping, timing, metrics.
func BenchmarkInterceptor(b *testing.B) {
	cri, err := metrics.NewCRI(metrics.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	i := &interceptor{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), obs: cri, shutdown: context.Background(), calls: new(UnaryCalls)}
	info := &grpc.UnaryServerInfo{FullMethod: "/runtime.v1.RuntimeService/Version"}
	req := &runtimeapi.VersionRequest{}
	handler := func(context.Context, any) (any, error) { return req, nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.unary(ctx, req, info, handler); err != nil {
			b.Fatal(err)
		}
	}
}
