package network

import (
	"bufio"
	"crypto/rand"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// systemPluginDir is where Debian's containernetworking-plugins puts the
// real plugins.
const systemPluginDir = "/usr/lib/cni"

// requireCNI skips a test that needs root, network namespaces and the
// real plugins where one of them is truly absent.
func requireCNI(t testing.TB, plugins ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, bridges and iptables rules")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		t.Skip("no network namespaces:", err)
	}
	for _, p := range plugins {
		if _, err := os.Stat(filepath.Join(systemPluginDir, p)); err != nil {
			t.Skipf("CNI plugin %s not installed (containernetworking-plugins): %v", p, err)
		}
	}
	if len(plugins) > 0 {
		if _, err := exec.LookPath("iptables"); err != nil {
			t.Skip("iptables not installed")
		}
	}
}

// testNet is one test's private network: its own bridge name and /24 in
// 10.199.0.0/16, host-local leases inside the test's temp dir.
type testNet struct {
	name    string // network and bridge name
	subnet  string
	ipamDir string // host-local dataDir; leases are <ipamDir>/<name>/<ip>
	confDir string
	binDir  string // the test's own plugins (copies of testdata/plugins)
	cache   string
}

// newTestNet prepares the directories of network number n (1..254); the
// bridge it names is deleted at cleanup.
func newTestNet(t testing.TB, n int) *testNet {
	t.Helper()
	dir := t.TempDir()
	tn := &testNet{
		name:    fmt.Sprintf("lbtest%d", n),
		subnet:  fmt.Sprintf("10.199.%d.0/24", n),
		ipamDir: filepath.Join(dir, "ipam"),
		confDir: filepath.Join(dir, "net.d"),
		binDir:  filepath.Join(dir, "bin"),
		cache:   filepath.Join(dir, "cache"),
	}
	for _, d := range []string{tn.confDir, tn.binDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(tn.name); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	return tn
}

// bridgeChain is the chain the tests attach with: bridge + host-local,
// then whatever extra plugin configs are given (JSON objects).
func (tn *testNet) bridgeChain(extra ...string) string {
	plugins := []string{fmt.Sprintf(`{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":false,"hairpinMode":true,
		"ipam":{"type":"host-local","ranges":[[{"subnet":%q}]],"dataDir":%q}}`, tn.name, tn.subnet, tn.ipamDir)}
	plugins = append(plugins, extra...)
	return fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"plugins":[%s]}`, tn.name, strings.Join(plugins, ","))
}

const portmapPlugin = `{"type":"portmap","capabilities":{"portMappings":true}}`

// writeConf writes a configuration file into the test's conf dir.
func (tn *testNet) writeConf(t testing.TB, file, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(tn.confDir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// installPlugin copies a fake plugin from testdata/plugins into the
// test's plugin dir (where the recorder writes what it saw).
func (tn *testNet) installPlugin(t *testing.T, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "plugins", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tn.binDir, name), b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// manager starts a Manager on the test network; closed at cleanup.
func (tn *testNet) manager(t testing.TB, o Options) *Manager {
	t.Helper()
	o.ConfDir, o.BinDirs, o.CacheDir = tn.confDir, []string{tn.binDir, systemPluginDir}, tn.cache
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// leases lists host-local's lease files (one per allocated IP) and the
// sandbox each belongs to.
func (tn *testNet) leases(t testing.TB) map[string]string {
	t.Helper()
	dir := filepath.Join(tn.ipamDir, tn.name)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if net.ParseIP(e.Name()) == nil {
			continue // lock, last_reserved_ip.0
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		id, _, _ := strings.Cut(string(b), "\n")
		out[e.Name()] = strings.TrimSpace(id)
	}
	return out
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newNetNS creates a network namespace with lo up, bind-mounted at a file
// in the test's temp dir, as the sandbox aggregate does; it is unmounted
// at cleanup.
func newNetNS(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is left in the new namespace and, still locked when
		// the goroutine ends, is thrown away by the Go runtime.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind %s: %w", src, err)
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(path, unix.MNT_DETACH) })
	return path
}

// inNetNS runs fn on a thread inside the namespace at path; sockets fn
// creates stay in that namespace.
func inNetNS(t *testing.T, path string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is discarded
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// linkInNetNS reports whether the namespace has an interface named name.
func linkInNetNS(t *testing.T, path, name string) bool {
	t.Helper()
	found := false
	inNetNS(t, path, func() error {
		_, err := netlink.LinkByName(name)
		found = err == nil
		return nil
	})
	return found
}

// servePod listens on port inside the pod's namespace and answers each
// connection with greeting; stopped at cleanup.
func servePod(t *testing.T, nsPath string, port int, greeting string) {
	t.Helper()
	var ln net.Listener
	inNetNS(t, nsPath, func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, greeting+"\n")
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
}

// dial connects to addr and returns the first line it sends, retrying
// until the deadline (a fresh DNAT rule or ARP entry may take a moment).
func dial(t *testing.T, addr string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil {
				return strings.TrimSpace(line)
			}
			lastErr = err
		} else {
			lastErr = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("dial %s: %v", addr, lastErr)
	return ""
}

// natRules is `iptables -t nat -S`.
func natRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables", "-w", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables: %v: %s", err, out)
	}
	return string(out)
}

// freePort returns a TCP port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// podConfig is a pod with a name of the test's own.
func podConfig(t testing.TB) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), Namespace: "network-test", Uid: "uid-" + fmt.Sprint(time.Now().UnixNano())},
	}
}

// sandboxID is a fresh 64-hex ID like the runtime's.
func sandboxID(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", within, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func unmount(path string) error { return unix.Unmount(path, unix.MNT_DETACH) }
