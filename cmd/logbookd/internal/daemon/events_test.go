package daemon

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/criserver"
)

func criClient(t *testing.T, socket string) runtimeapi.RuntimeServiceClient {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimeapi.NewRuntimeServiceClient(conn)
}

// gauge scrapes one unlabelled series of the metrics endpoint.
func gauge(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

// TestEventsWired: the daemon serves GetContainerEvents (with its start
// position), the stats and metrics calls, and the lifecycle metrics; at
// shutdown an open event stream ends with Unavailable.
func TestEventsWired(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.EnablePodEvents = true
	cfg.MetricsAddress = "127.0.0.1:0"
	d, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := criClient(t, d.socket)
	ctx := context.Background()
	stream, err := c.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := stream.Header()
	if err != nil || len(md.Get(criserver.LastSeqHeader)) != 1 {
		t.Fatalf("stream header %v, %v: want the start position", md, err)
	}

	descs, err := c.ListMetricDescriptors(ctx, &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil || len(descs.GetDescriptors()) < 45 {
		t.Errorf("ListMetricDescriptors: %d descriptors, %v", len(descs.GetDescriptors()), err)
	}
	if st, err := c.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{}); err != nil || len(st.GetStats()) != 0 {
		t.Errorf("ListContainerStats on an empty node = %v, %v", st, err)
	}
	_, err = c.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: "0123abcd"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("ContainerStats of an unknown container: %v, want NotFound", err)
	}

	// The stream and the lifecycle follower are the journal's subscribers.
	addr := d.metricsAddr.String()
	deadline := time.Now().Add(10 * time.Second)
	for gauge(t, addr, "logbook_journal_subscribers") != 2 || gauge(t, addr, "logbook_event_stream_subscribers") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("journal subscribers %v, event streams %v: want 2 and 1",
				gauge(t, addr, "logbook_journal_subscribers"), gauge(t, addr, "logbook_event_stream_subscribers"))
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := d.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("event stream at shutdown: %v, want Unavailable", err)
	}
}

func TestEventsDisabled(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	d, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := criClient(t, d.socket).GetContainerEvents(context.Background(), &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "enable-pod-events") {
		t.Errorf("GetContainerEvents with pod events off: %v", err)
	}
}
