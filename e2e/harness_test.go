package e2e

// The lifecycle end-to-end harness: the real binaries of bin/ (logbookd
// with logbook-shim and logbook-pause next to it, crictl, testimages), a
// daemon on a private root, state, socket and CNI network, driven by crictl
// and by the Go CRI client, killed and restarted at will.
//
// Shims outlive a killed daemon. They are re-parented to the nearest child
// sub-reaper, and this machine's PID 1 does not reap, so the test process
// makes itself a sub-reaper and reaps, while a test runs, the zombies no
// exec.Cmd of its own waits for (see reaper).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/hack/chaos/rig"
)

// bins are the binaries the tests run.
type bins struct {
	logbookd, crictl, testimages string
}

// needBinaries skips the test unless bin/ has everything (make build
// tools) and the test images are built.
func needBinaries(t *testing.T) bins {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the daemon needs root")
	}
	_, file, _, _ := goruntime.Caller(0)
	bin := filepath.Join(filepath.Dir(filepath.Dir(file)), "bin")
	b := bins{filepath.Join(bin, "logbookd"), filepath.Join(bin, "crictl"), filepath.Join(bin, "testimages")}
	for _, p := range []string{b.logbookd, filepath.Join(bin, "logbook-shim"), filepath.Join(bin, "logbook-pause"), b.crictl, b.testimages} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is missing: run `make build tools` first (%v)", p, err)
		}
	}
	if out, err := exec.Command(b.testimages, "list").CombinedOutput(); err != nil {
		t.Skipf("the test image layout is not built (run `bin/testimages build`): %v: %s", err, out)
	}
	for _, p := range []string{"bridge", "host-local"} {
		if _, err := os.Stat("/usr/lib/cni/" + p); err != nil {
			t.Skipf("CNI plugin %s missing: %v", p, err)
		}
	}
	return b
}

// newReaper makes this test process a child sub-reaper (the shims of a
// killed daemon come to it) for the test; its children are started
// through the reaper only (rig.Reaper).
func newReaper(t *testing.T) *rig.Reaper {
	r, err := rig.NewReaper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// env is one test's world: registry, CNI network, daemon configuration.
type env struct {
	t       *testing.T
	b       bins
	r       *rig.Reaper
	dir     string
	root    string
	state   string
	socket  string
	cfgPath string
	bridge  string

	d *daemon // the running daemon, nil between a kill and a start
}

// newEnv starts the test registry and writes the daemon's configuration:
// its own root, state and socket, the registry as mirror of every public
// registry the images come from, and a private CNI network on bridge
// (subnet 10.199.<net>.0/24).
func newEnv(t *testing.T, bridge string, net int) *env {
	t.Helper()
	b := needBinaries(t)
	e := &env{t: t, b: b, r: newReaper(t), dir: t.TempDir(), bridge: bridge}
	e.root, e.state = filepath.Join(e.dir, "root"), filepath.Join(e.dir, "state")
	e.socket = filepath.Join(e.state, "logbook.sock")

	addrFile := filepath.Join(e.dir, "registry.addr")
	reg := exec.Command(b.testimages, "serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile)
	regLog, _ := os.Create(filepath.Join(e.dir, "registry.log"))
	reg.Stdout, reg.Stderr = regLog, regLog
	if err := e.r.Start(reg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Process.Signal(syscall.SIGTERM); e.r.Wait(reg); regLog.Close() })
	var addr []byte
	poll(t, "the test registry's address", 60*time.Second, func() error {
		var err error
		addr, err = os.ReadFile(addrFile)
		if err == nil && len(bytes.TrimSpace(addr)) == 0 {
			err = fmt.Errorf("empty")
		}
		return err
	})
	mirror := "http://" + strings.TrimSpace(string(addr))

	confDir := filepath.Join(e.dir, "net.d")
	os.MkdirAll(confDir, 0o755)
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"plugins":[
		{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":false,
		 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.199.%d.0/24"}]],"dataDir":%q}},
		{"type":"portmap","capabilities":{"portMappings":true}}]}`, bridge, bridge, net, filepath.Join(e.dir, "ipam"))
	if err := os.WriteFile(filepath.Join(confDir, "10-e2e.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(bridge); err == nil {
			netlink.LinkDel(l)
		}
	})
	cfg := map[string]any{
		"root": e.root, "state": e.state, "socket": e.socket, "metrics-address": "",
		"enable-pod-events": true, "cni-conf-dir": confDir,
		"registry-mirrors": map[string][]string{"registry.k8s.io": {mirror}, "gcr.io": {mirror}, "docker.io": {mirror}},
	}
	bcfg, _ := json.Marshal(cfg)
	e.cfgPath = filepath.Join(e.dir, "daemon.json")
	if err := os.WriteFile(e.cfgPath, bcfg, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanup)
	return e
}

// daemon is one run of logbookd.
type daemon struct {
	cmd  *exec.Cmd
	done chan error
	conn *grpc.ClientConn
	rt   runtimeapi.RuntimeServiceClient
	img  runtimeapi.ImageServiceClient
	log  *os.File
}

// start runs logbookd and waits until it answers on its socket.
func (e *env) start() *daemon {
	t := e.t
	t.Helper()
	if e.d != nil {
		t.Fatal("a daemon is already running")
	}
	n := 0
	for {
		if _, err := os.Stat(filepath.Join(e.dir, fmt.Sprintf("logbookd-%d.log", n))); err != nil {
			break
		}
		n++
	}
	logf, err := os.Create(filepath.Join(e.dir, fmt.Sprintf("logbookd-%d.log", n)))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.b.logbookd, "--config", e.cfgPath, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := e.r.Start(cmd); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, done: make(chan error, 1), log: logf}
	go func() { d.done <- e.r.Wait(cmd) }()
	conn, err := grpc.NewClient("unix://"+e.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	d.conn, d.rt, d.img = conn, runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.rt.Version(ctx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			break
		}
		select {
		case err := <-d.done:
			t.Fatalf("logbookd exited at start: %v (log %s)", err, logf.Name())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("logbookd does not answer: %v (log %s)", err, logf.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.d = d
	return d
}

// kill SIGKILLs the daemon and waits for it to be gone.
func (e *env) kill() {
	e.t.Helper()
	if e.d == nil {
		return
	}
	e.d.cmd.Process.Signal(syscall.SIGKILL)
	<-e.d.done
	e.d.conn.Close()
	e.d.log.Close()
	e.d = nil
}

// stop stops the daemon with SIGTERM (a clean shutdown).
func (e *env) stop() {
	e.t.Helper()
	if e.d == nil {
		return
	}
	e.d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.d.done:
		if err != nil {
			e.t.Errorf("logbookd: %v", err)
		}
	case <-time.After(30 * time.Second):
		e.t.Error("logbookd did not stop on SIGTERM within 30s")
		e.d.cmd.Process.Kill()
		<-e.d.done
	}
	e.d.conn.Close()
	e.d.log.Close()
	e.d = nil
}

// crictl runs crictl against the daemon and returns its stdout.
func (e *env) crictl(args ...string) (string, error) {
	full := append([]string{"--runtime-endpoint", "unix://" + e.socket, "--image-endpoint", "unix://" + e.socket, "--timeout", "60s"}, args...)
	cmd := exec.Command(e.b.crictl, full...)
	cmd.Dir = e.dir // crictl looks for <cwd>/../crictl.yaml; keep it away from the repository
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := e.r.Run(cmd); err != nil {
		return out.String(), fmt.Errorf("crictl %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (e *env) mustCrictl(args ...string) string {
	e.t.Helper()
	out, err := e.crictl(args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// cleanup removes every pod through a daemon (started if needed), stops
// it, and checks that nothing is left on the node.
func (e *env) cleanup() {
	t := e.t
	if e.d == nil {
		e.start()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if pods, err := e.d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err == nil {
		for _, p := range pods.GetItems() {
			if _, err := e.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.GetId()}); err != nil {
				t.Errorf("cleanup: remove pod %s: %v", p.GetId(), err)
			}
		}
	}
	e.stop()
	e.checkClean(nil)
}

// checkClean fails the test if anything of a pod or container not in live
// is left on the node: runc containers, shim processes and state, bundles,
// network namespaces, sandbox directories, writable layers, mounts,
// cgroups.
func (e *env) checkClean(live map[string]bool) {
	t := e.t
	t.Helper()
	runcList := exec.Command("runc", "--root", filepath.Join(e.state, "runc"), "list", "-q")
	var out bytes.Buffer
	runcList.Stdout = &out
	if err := e.r.Run(runcList); err != nil && !os.IsNotExist(err) {
		t.Errorf("runc list: %v", err)
	}
	for _, id := range strings.Fields(out.String()) {
		if !live[id] {
			t.Errorf("runc still knows %s", id)
		}
	}
	for _, d := range []string{filepath.Join(e.state, "shims"), filepath.Join(e.state, "bundles"),
		filepath.Join(e.state, "netns"), filepath.Join(e.state, "sandboxes"), filepath.Join(e.root, "containers")} {
		for _, id := range listDir(d) {
			if !live[id] {
				t.Errorf("%s/%s left", d, id)
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !(strings.HasPrefix(f[4], e.state+"/") || strings.HasPrefix(f[4], e.root+"/")) {
			continue
		}
		if !slices.ContainsFunc(mapKeys(live), func(id string) bool { return strings.Contains(f[4], id) }) {
			t.Errorf("mount left: %s", f[4])
		}
	}
	for _, ctrl := range []string{"memory", "pids", "cpu", "freezer"} {
		for _, id := range listDir(filepath.Join("/sys/fs/cgroup", ctrl, "logbook")) {
			if len(id) == 64 && !live[id] && e.ours(id) {
				t.Errorf("cgroup %s/logbook/%s left", ctrl, id)
			}
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, p := range ents {
		cmdline, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(e.state+"/shims/")) {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + p.Name() + "/stat")
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			continue // exited, not yet reaped
		}
		args := strings.Split(string(cmdline), "\x00")
		id := ""
		if i := slices.Index(args, "-id"); i >= 0 && i+1 < len(args) {
			id = args[i+1]
		}
		if !live[id] {
			t.Errorf("shim %s of %s still runs", p.Name(), id)
		}
	}
}

// ours tells whether a cgroup named id belongs to this test's daemon: its
// journal knows the id (other daemons on the node share /logbook).
func (e *env) ours(id string) bool {
	b, _ := os.ReadFile(filepath.Join(e.root, "journal.db"))
	return bytes.Contains(b, []byte(id))
}

func mapKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func listDir(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// poll retries cond until it returns nil or timeout passes.
func poll(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// podConfig is a pod with unique metadata and a log directory of its own.
func (e *env) podConfig(name string) *runtimeapi.PodSandboxConfig {
	uid := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	logDir := filepath.Join(e.dir, "logs", uid)
	os.MkdirAll(logDir, 0o755)
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "e2e", Uid: uid, Attempt: 0},
		Hostname:     name,
		LogDirectory: logDir,
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
}

// busybox is the image every container runs.
const busybox = "registry.k8s.io/e2e-test-images/busybox:1.29-2"

func containerConfig(name string, cmd ...string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: busybox},
		Command:  cmd,
		LogPath:  name + ".log",
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}
}
