package sandbox_test

// The sandbox aggregate with the real pod network (package network, real
// CNI plugins on a bridge of the test's own): pods get IPs, teardown is
// retried until it succeeds, and a crash between CNI ADD and the journal
// leaks no address. Written by the network side; the aggregate's own tests
// use a fake network (sandbox_test.go).

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/logbook-cri/logbook/network"
	"github.com/logbook-cri/logbook/runtime/container/containertest"
)

// cniNet is one test's private CNI network: bridge lbsbx<n>, subnet
// 10.199.<n>.0/24, host-local leases in the test's temp dir, and the fake
// plugins of network/testdata in a plugin directory of its own.
type cniNet struct {
	name, subnet, ipam, conf, bin string
}

func newCNINet(t *testing.T, n int, extra ...string) *cniNet {
	t.Helper()
	for _, p := range []string{"bridge", "host-local"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Skipf("CNI plugin %s not installed: %v", p, err)
		}
	}
	dir := t.TempDir()
	c := &cniNet{
		name: fmt.Sprintf("lbsbx%d", n), subnet: fmt.Sprintf("10.199.%d.0/24", n),
		ipam: filepath.Join(dir, "ipam"), conf: filepath.Join(dir, "net.d"), bin: filepath.Join(dir, "bin"),
	}
	for _, d := range []string{c.conf, c.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"fail-del"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "network", "testdata", "plugins", p))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.bin, p), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	plugins := append([]string{fmt.Sprintf(`{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":false,
		"ipam":{"type":"host-local","ranges":[[{"subnet":%q}]],"dataDir":%q}}`, c.name, c.subnet, c.ipam)}, extra...)
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"plugins":[%s]}`, c.name, strings.Join(plugins, ","))
	if err := os.WriteFile(filepath.Join(c.conf, "10-test.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(c.name); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	return c
}

// manager is a network.Manager on the test network, its cache where the
// daemon would put it (under the root). Registered before the Env so that
// it is closed after the Env's teardown.
func (c *cniNet) manager(t *testing.T, afterAdd func(string)) *network.Manager {
	t.Helper()
	m, err := network.New(network.Options{
		ConfDir: c.conf, BinDirs: []string{c.bin, "/usr/lib/cni"}, CacheDir: filepath.Join(t.TempDir(), "cni-cache"),
		AfterAdd: afterAdd,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if ready, _, msg := m.NetworkStatus(); !ready {
		t.Fatalf("test network not ready: %s", msg)
	}
	return m
}

// leases lists host-local's allocations: IP -> sandbox ID.
func (c *cniNet) leases(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(c.ipam, c.name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if net.ParseIP(e.Name()) == nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(c.ipam, c.name, e.Name()))
		id, _, _ := strings.Cut(string(b), "\n")
		out[e.Name()] = strings.TrimSpace(id)
	}
	return out
}

// TestCNIPodNetwork: a pod gets an IP of the network, reported by its
// status, held in host-local and set on eth0 in its namespace; stopping
// the pod releases it, once, and the status then reports none.
func TestCNIPodNetwork(t *testing.T) {
	c := newCNINet(t, 238)
	m := c.manager(t, nil)
	e := containertest.New(t, containertest.WithNetwork(m))
	id := e.RunPod(e.PodConfig("cni"))
	sb, _ := e.Store.Sandbox(id)
	ip, err := netip.ParseAddr(sb.CRIStatus().GetNetwork().GetIp())
	if err != nil || !netip.MustParsePrefix(c.subnet).Contains(ip) {
		t.Fatalf("pod IP %q not in %s", sb.CRIStatus().GetNetwork().GetIp(), c.subnet)
	}
	if l := c.leases(t); len(l) != 1 || l[ip.String()] != id {
		t.Fatalf("leases %v, want %s held by %s", l, ip, id)
	}
	if hosts, err := os.ReadFile(e.Layout.SandboxHosts(id)); err != nil || !strings.Contains(string(hosts), ip.String()) {
		t.Errorf("/etc/hosts of the pod lacks its IP %s: %q, %v", ip, hosts, err)
	}
	ctx := context.Background()
	if err := e.Sandboxes.StopPodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	if l := c.leases(t); len(l) != 0 {
		t.Fatalf("leases after stop: %v", l)
	}
	sb, _ = e.Store.Sandbox(id)
	if !sb.NetworkTornDown || sb.CRIStatus().GetNetwork().GetIp() != "" {
		t.Fatalf("after stop: torn down %v, IP %q", sb.NetworkTornDown, sb.CRIStatus().GetNetwork().GetIp())
	}
	if err := e.Sandboxes.StopPodSandbox(ctx, id); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

// TestCNITeardownRetried: a DEL that fails leaves the pod's address held
// and the sandbox not torn down; a later StopPodSandbox retries it, and so
// does the start-up after a crash.
func TestCNITeardownRetried(t *testing.T) {
	c := newCNINet(t, 237, `{"type":"fail-del"}`)
	m := c.manager(t, nil)
	e := containertest.New(t, containertest.WithNetwork(m))
	ctx := context.Background()
	failing := filepath.Join(c.bin, "fail-del.on")
	if err := os.WriteFile(failing, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// Retried by a later stop.
	a := e.RunPod(e.PodConfig("retry-stop"))
	if err := e.Sandboxes.StopPodSandbox(ctx, a); err == nil || !strings.Contains(err.Error(), "DEL refused on purpose") {
		t.Fatalf("stop with a failing DEL: %v", err)
	}
	if sb, _ := e.Store.Sandbox(a); sb.NetworkTornDown {
		t.Fatal("torn down although DEL failed")
	}
	if l := c.leases(t); len(l) != 1 {
		t.Fatalf("leases while DEL fails: %v", l)
	}

	// Retried at start-up.
	b := e.RunPod(e.PodConfig("retry-restart"))
	if err := e.Sandboxes.StopPodSandbox(ctx, b); err == nil {
		t.Fatal("stop with a failing DEL succeeded")
	}
	if err := os.Remove(failing); err != nil {
		t.Fatal(err)
	}
	if err := e.Sandboxes.StopPodSandbox(ctx, a); err != nil {
		t.Fatalf("retried stop: %v", err)
	}
	if sb, _ := e.Store.Sandbox(a); !sb.NetworkTornDown {
		t.Fatal("retried stop did not tear the network down")
	}
	e.Crash()
	e.Restart()
	if sb, _ := e.Store.Sandbox(b); sb == nil || !sb.NetworkTornDown {
		t.Fatalf("start-up did not retry the teardown: %+v", sb)
	}
	if l := c.leases(t); len(l) != 0 {
		t.Fatalf("leases after the retries: %v", l)
	}
}

// TestCNICrashBetweenAddAndJournal: the daemon stops dead right after CNI
// ADD, before sandbox.ready is journaled (emulated by parking the
// RunPodSandbox call at network.Options.AfterAdd for good, then dropping
// every handle as a SIGKILL would). The restart rolls the sandbox back and
// host-local holds no lease.
func TestCNICrashBetweenAddAndJournal(t *testing.T) {
	c := newCNINet(t, 236)
	reached := make(chan string, 1)
	var once sync.Once
	m := c.manager(t, func(id string) {
		once.Do(func() {
			reached <- id
			select {} // the process is dead from here on
		})
	})
	e := containertest.New(t, containertest.WithNetwork(m))
	go e.Sandboxes.RunPodSandbox(context.Background(), e.PodConfig("crash"), "") //nolint:errcheck // never returns
	var id string
	select {
	case id = <-reached:
	case <-time.After(60 * time.Second):
		t.Fatal("RunPodSandbox never reached CNI ADD")
	}
	if l := c.leases(t); len(l) != 1 || !heldBy(l, id) {
		t.Fatalf("leases at the crash point: %v, want one held by %s", l, id)
	}
	e.Crash()
	e.Restart()
	if l := c.leases(t); len(l) != 0 {
		t.Fatalf("leases after the restart: %v", l)
	}
	if sb, ok := e.Store.Sandbox(id); ok {
		t.Fatalf("the half-created sandbox survived the restart: %+v", sb)
	}
	if _, err := os.Stat(e.Layout.NetNS(id)); !os.IsNotExist(err) {
		t.Fatalf("network namespace of the rolled-back sandbox left (%v)", err)
	}
}

func heldBy(leases map[string]string, id string) bool {
	for _, owner := range leases {
		if owner != id {
			return false
		}
	}
	return len(leases) > 0
}
