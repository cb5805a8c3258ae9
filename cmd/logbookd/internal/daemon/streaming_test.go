package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// freeAddr is a loopback address nothing listens on at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestStreamingServerLivesWithTheDaemon: the streaming server listens on
// stream-address while the daemon serves, answers an unknown URL 404, and
// is gone once the daemon has shut down.
func TestStreamingServerLivesWithTheDaemon(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.StreamAddress = freeAddr(t)
	d, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + cfg.StreamAddress + "/exec/no-such-token")
	if err != nil {
		t.Fatalf("the streaming server does not answer on %s: %v", cfg.StreamAddress, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown token: %s, want 404", resp.Status)
	}

	conn, err := grpc.NewClient("unix://"+d.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: strings.Repeat("a", 64), Cmd: []string{"true"}, Stdout: true})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Exec into an unknown container: %v, want NotFound", err)
	}
	_, err = rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: strings.Repeat("a", 64), Cmd: []string{"true"}})
	if status.Code(err) != codes.NotFound {
		t.Errorf("ExecSync into an unknown container: %v, want NotFound", err)
	}

	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", cfg.StreamAddress, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the daemon stopped", cfg.StreamAddress)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after shutdown: %v, want connection refused", err)
	}
}

// TestBusyStreamAddressFailsTheStart: a stream-address in use is a
// startup error naming it.
func TestBusyStreamAddressFailsTheStart(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t, t.TempDir())
	cfg.StreamAddress = l.Addr().String()
	if _, err := start(t, cfg); err == nil || !strings.Contains(err.Error(), "stream-address") {
		t.Errorf("start with a busy stream-address: %v", err)
	}
}
