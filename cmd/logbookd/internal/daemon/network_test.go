package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// networkCondition is Status' NetworkReady condition.
func networkCondition(t *testing.T, socket string) *runtimeapi.RuntimeCondition {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := runtimeapi.NewRuntimeServiceClient(conn).Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.GetStatus().GetConditions() {
		if c.Type == runtimeapi.NetworkReady {
			return c
		}
	}
	t.Fatal("Status has no NetworkReady condition")
	return nil
}

// TestStatusNetworkReady: the daemon's Status reports the CNI directory
// honestly: not ready, naming the directory, while it holds nothing
// loadable; ready once a configuration is dropped in, without a restart.
func TestStatusNetworkReady(t *testing.T) {
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("CNI plugins not installed:", err)
	}
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.CNIConfDir = filepath.Join(dir, "net.d")
	cfg.CNIBinDir = "/usr/lib/cni"
	if err := os.MkdirAll(cfg.CNIConfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := networkCondition(t, r.socket)
	if c.Status || c.Reason != "NetworkPluginNotReady" || !strings.Contains(c.Message, cfg.CNIConfDir) {
		t.Fatalf("empty CNI dir: %+v", c)
	}
	conf := `{"cniVersion":"1.0.0","name":"daemon-test","plugins":[{"type":"bridge","bridge":"lbdaemon0",
		"ipam":{"type":"host-local","ranges":[[{"subnet":"10.199.240.0/24"}]]}}]}`
	if err := os.WriteFile(filepath.Join(cfg.CNIConfDir, "10-test.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c = networkCondition(t, r.socket); !c.Status; c = networkCondition(t, r.socket) {
		if time.Now().After(deadline) {
			t.Fatalf("still not ready 10s after a config was dropped in: %+v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.Reason != "" || c.Message != "" {
		t.Fatalf("ready with a reason: %+v", c)
	}
	// The libcni cache lives under the daemon's root.
	if fi, err := os.Stat(cniCacheDir(cfg)); err != nil || !fi.IsDir() || !strings.HasPrefix(cniCacheDir(cfg), cfg.Root) {
		t.Fatalf("CNI cache dir %s: %v", cniCacheDir(cfg), err)
	}
}
