package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/runtime/container/containertest"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// These tests run the real binaries (bin/logbookd, with logbook-shim and
// logbook-pause next to it, as `make build` leaves them) on a private CNI
// network, kill the daemon with SIGKILL, and check that pod networking
// survives it: no lease, rule or namespace is leaked.

// crashNet is the private network of the crash tests.
const (
	crashBridge = "lbcrash0"
	crashSubnet = "10.199.239.0/24"
)

type crashEnv struct {
	dir, cfgPath, socket, ipamDir, binary string
}

// newCrashEnv prepares a daemon configuration with its own root, state,
// socket and CNI network, or skips where the binaries or plugins are
// missing.
func newCrashEnv(t *testing.T) *crashEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	binary, err := filepath.Abs("../../../../bin/logbookd")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{binary, filepath.Join(filepath.Dir(binary), "logbook-shim"), filepath.Join(filepath.Dir(binary), "logbook-pause")} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s missing (make build): %v", f, err)
		}
	}
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		if _, err := os.Stat("/usr/lib/cni/" + p); err != nil {
			t.Skipf("CNI plugin %s missing: %v", p, err)
		}
	}
	// The infra shims outlive a killed daemon; they are re-parented to this
	// process rather than to an init that may not reap them.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	dir := t.TempDir()
	e := &crashEnv{dir: dir, binary: binary, socket: filepath.Join(dir, "state", "logbook.sock"), ipamDir: filepath.Join(dir, "ipam")}
	confDir := filepath.Join(dir, "net.d")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"lbcrash","plugins":[
		{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":false,
		 "ipam":{"type":"host-local","ranges":[[{"subnet":%q}]],"dataDir":%q}},
		{"type":"portmap","capabilities":{"portMappings":true}}]}`, crashBridge, crashSubnet, e.ipamDir)
	if err := os.WriteFile(filepath.Join(confDir, "10-crash.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"root": filepath.Join(dir, "root"), "state": filepath.Join(dir, "state"), "socket": e.socket,
		"metrics-address": "", "cni-conf-dir": confDir, "cni-bin-dir": "/usr/lib/cni", "log-level": "debug",
	}
	b, _ := json.Marshal(cfg)
	e.cfgPath = filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(e.cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "link", "del", crashBridge).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find") {
			t.Logf("delete bridge: %v: %s", err, out)
		}
		reapOrphans()
	})
	return e
}

// reapOrphans collects the exit status of the shims re-parented to this
// process (and only theirs: children an exec.Cmd waits for are left
// alone).
func reapOrphans() { containertest.ReapOrphans() }

// daemonProc is one run of bin/logbookd.
type daemonProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is waited for
	err  error         // Wait's result, set before done is closed
	log  string
}

// start runs the daemon with the extra environment and waits until it
// answers on its socket.
func (e *crashEnv) start(t *testing.T, run int, env ...string) *daemonProc {
	t.Helper()
	logPath := filepath.Join(e.dir, fmt.Sprintf("logbookd-%d.log", run))
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.binary, "--config", e.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	d := &daemonProc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-d.done
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s:\n%s", logPath, b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", e.socket); err == nil {
			c.Close()
			return d
		}
		select {
		case <-d.done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("logbookd exited before serving: %v\n%s", d.err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("logbookd not serving after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the daemon gracefully.
func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatal("logbookd did not stop within 30s of SIGTERM")
	}
}

func (e *crashEnv) client(t *testing.T) runtimeapi.RuntimeServiceClient {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+e.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimeapi.NewRuntimeServiceClient(conn)
}

// leases lists host-local's allocations on the test network: IP -> owner.
func (e *crashEnv) leases(t *testing.T) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.ipamDir, "lbcrash"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ent := range entries {
		if net.ParseIP(ent.Name()) == nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(e.ipamDir, "lbcrash", ent.Name()))
		id, _, _ := strings.Cut(string(b), "\n")
		out[ent.Name()] = strings.TrimSpace(id)
	}
	return out
}

func crashPod(name string, hostPort int32) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "crash-test", Uid: name + "-uid"},
		PortMappings: []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: hostPort}, {ContainerPort: 81}},
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
}

func freeHostPort(t *testing.T) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// skipUnimplemented skips where the binary has no sandbox aggregate yet.
func skipUnimplemented(t *testing.T, err error) {
	t.Helper()
	if status.Code(err) == codes.Unimplemented {
		t.Skipf("bin/logbookd does not run pod sandboxes: %v", err)
	}
}

func natHas(t *testing.T, s string) bool {
	t.Helper()
	out, err := exec.Command("iptables", "-w", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables: %v: %s", err, out)
	}
	return strings.Contains(string(out), s)
}

// TestCrashBetweenCNIAddAndJournal is the crash test: the daemon
// is SIGKILLed right after CNI ADD, before the sandbox's result reaches
// the journal. Restarted, it must release the address and the rules
// (recovery rolls the half-created sandbox back; stopping the pod finds
// nothing left to do), and host-local must hold no lease.
func TestCrashBetweenCNIAddAndJournal(t *testing.T) {
	e := newCrashEnv(t)
	d := e.start(t, 1, CrashPointEnv+"="+CrashAfterCNIAdd)
	rt := e.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hostPort := freeHostPort(t)
	_, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: crashPod("crash-after-add", hostPort)})
	if err == nil {
		t.Fatal("RunPodSandbox succeeded past the crash point")
	}
	skipUnimplemented(t, err)
	select {
	case <-d.done:
		if ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("daemon ended with %v, want SIGKILL", d.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon still running after the crash point")
	}
	leases := e.leases(t)
	if len(leases) != 1 {
		t.Fatalf("leases after the crash: %v, want the one ADD allocated", leases)
	}
	var id string
	for _, owner := range leases {
		id = owner
	}
	if !natHas(t, id) {
		t.Fatalf("no portmap rule for %s after ADD", id)
	}

	d2 := e.start(t, 2)
	rt = e.client(t)
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range list.Items {
		if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Fatalf("sandbox %s is ready after a crash before it was", sb.Id)
		}
	}
	// The kubelet would stop (and remove) the pod; the ID is known from
	// the lease.
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	if l := e.leases(t); len(l) != 0 {
		t.Fatalf("leases after restart and stop: %v", l)
	}
	if natHas(t, id) {
		t.Fatalf("rules of %s left after restart and stop", id)
	}
	d2.stop(t)
}

// TestPodNetworkSurvivesRestart: a pod gets an IP of the network in
// PodSandboxStatus; the daemon is SIGKILLed while the pod runs; the
// restarted daemon still reports the IP, and stopping the pod then
// releases the lease and the rules (from the journaled result), once.
func TestPodNetworkSurvivesRestart(t *testing.T) {
	e := newCrashEnv(t)
	d := e.start(t, 1)
	rt := e.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: crashPod("survives-restart", freeHostPort(t))})
	skipUnimplemented(t, err)
	if err != nil {
		t.Fatal(err)
	}
	id := run.PodSandboxId
	st, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := netip.ParseAddr(st.GetStatus().GetNetwork().GetIp())
	if err != nil || !netip.MustParsePrefix(crashSubnet).Contains(ip) {
		t.Fatalf("pod IP %q not in %s", st.GetStatus().GetNetwork().GetIp(), crashSubnet)
	}
	if l := e.leases(t); l[ip.String()] != id {
		t.Fatalf("leases %v: %s not held by %s", l, ip, id)
	}

	_ = d.cmd.Process.Kill()
	<-d.done
	d2 := e.start(t, 2)
	rt = e.client(t)
	st, err = rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetStatus().GetNetwork().GetIp(); got != ip.String() {
		t.Fatalf("after restart the pod IP is %q, want %s", got, ip)
	}
	for i := 0; i < 2; i++ { // the second stop finds the network already released
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Fatalf("StopPodSandbox #%d: %v", i+1, err)
		}
	}
	if l := e.leases(t); len(l) != 0 {
		t.Fatalf("leases after stop: %v", l)
	}
	if natHas(t, id) {
		t.Fatalf("rules of %s left after stop", id)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatal(err)
	}
	d2.stop(t)
}
