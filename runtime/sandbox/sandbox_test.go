package sandbox_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/mountinfo"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/container/containertest"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/sandbox"
)

func TestMain(m *testing.M) { containertest.Main(m) }

func alive(pid uint32) bool {
	if pid == 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func itoa(n uint32) string { return strconv.Itoa(int(n)) }

func mountOf(t *testing.T, path string) *mountinfo.Info {
	t.Helper()
	ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		return nil
	}
	return ms[len(ms)-1]
}

func loopbackUp(t *testing.T, nsPath string) bool {
	t.Helper()
	h, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	lo, err := nh.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	return lo.Attrs().Flags&net.FlagUp != 0
}

// TestLifecycle: run, stop (twice), remove (twice): the state the
// projection reports, and what is on the node at each step.
func TestLifecycle(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	cfg := e.PodConfig("life")
	cfg.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"10.10.10.10"}, Searches: []string{"example.test"}, Options: []string{"ndots:8"}}
	id := e.RunPod(cfg)

	sb, ok := e.Store.Sandbox(id)
	if !ok || sb.State != projector.SandboxReady || sb.Pid == 0 || sb.NetNSPath != e.Layout.NetNS(id) {
		t.Fatalf("after run: %+v", sb)
	}
	if sb.CgroupParent != containertest.CgroupParent {
		t.Errorf("cgroup parent %q", sb.CgroupParent)
	}
	if !alive(sb.Pid) {
		t.Fatalf("infra %d is not running", sb.Pid)
	}
	if m := mountOf(t, sb.NetNSPath); m == nil || m.FSType != "nsfs" {
		t.Fatalf("netns %s is not an nsfs mount: %+v", sb.NetNSPath, m)
	}
	if !loopbackUp(t, sb.NetNSPath) {
		t.Error("loopback is down in the pod's namespace")
	}
	// The infra process is in that namespace.
	want, _ := os.Readlink("/proc/" + itoa(sb.Pid) + "/ns/net")
	var st1, st2 syscall.Stat_t
	syscall.Stat(sb.NetNSPath, &st1)
	syscall.Stat("/proc/"+itoa(sb.Pid)+"/ns/net", &st2)
	if st1.Ino != st2.Ino {
		t.Errorf("infra's netns %s is not the pod's", want)
	}
	if m := mountOf(t, e.Layout.SandboxShm(id)); m == nil || m.FSType != "tmpfs" || !strings.Contains(m.VFSOptions, "size=65536k") {
		t.Errorf("shm mount: %+v", m)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if got := read(e.Layout.SandboxHostname(id)); got != "life\n" {
		t.Errorf("hostname file %q", got)
	}
	if got := read(e.Layout.SandboxResolvConf(id)); got != "search example.test\nnameserver 10.10.10.10\noptions ndots:8\n" {
		t.Errorf("resolv.conf %q", got)
	}
	if got := read(e.Layout.SandboxHosts(id)); !strings.HasPrefix(got, "127.0.0.1\tlocalhost\n") {
		t.Errorf("hosts %q", got)
	}

	if err := e.Sandboxes.StopPodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	sb, _ = e.Store.Sandbox(id)
	if sb.State != projector.SandboxNotReady || !sb.NetworkTornDown || sb.Pid != 0 || sb.StoppedAt == 0 {
		t.Fatalf("after stop: %+v", sb)
	}
	waitGone(t, e, id)
	if _, err := os.Stat(e.Layout.NetNS(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns still there: %v", err)
	}
	if m := mountOf(t, e.Layout.SandboxShm(id)); m != nil {
		t.Errorf("shm still mounted")
	}
	seq := e.Store.Seq()
	if err := e.Sandboxes.StopPodSandbox(ctx, id); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if e.Store.Seq() != seq {
		t.Error("a second stop journaled something")
	}

	if err := e.Sandboxes.RemovePodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Store.Sandbox(id); ok {
		t.Fatal("removed sandbox still visible")
	}
	for _, p := range []string{e.Layout.SandboxDir(id), e.Layout.Bundle(id), e.Layout.ShimDir(id)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	if err := e.Sandboxes.RemovePodSandbox(ctx, id); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	// Unknown IDs are success for stop and remove.
	if err := e.Sandboxes.StopPodSandbox(ctx, runtime.NewID()); err != nil {
		t.Error(err)
	}
	if err := e.Sandboxes.RemovePodSandbox(ctx, runtime.NewID()); err != nil {
		t.Error(err)
	}
	// The name is free again.
	cfg.Metadata.Attempt = 1
	e.RunPod(cfg)
}

// waitGone polls until runc no longer knows the infra of id (the monitor
// deletes it right after the exit).
func waitGone(t *testing.T, e *containertest.Env, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.Runc.State(context.Background(), id); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runc still knows %s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRefusals: a request refused at validation journals nothing and
// makes nothing.
func TestRefusals(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	_, err := e.Sandboxes.RunPodSandbox(ctx, e.PodConfig("h"), "kata")
	if !errors.Is(err, runtime.ErrNotFound) || !errors.Is(err, sandbox.ErrUnknownHandler) || !strings.Contains(err.Error(), "kata") {
		t.Errorf("unknown handler: %v", err)
	}
	if _, err := e.Sandboxes.RunPodSandbox(ctx, e.PodConfig("h"), "runc"); err != nil {
		t.Errorf("handler runc: %v", err)
	}
	seq := e.Store.Seq()
	cfg := e.PodConfig("sysctl")
	cfg.Linux.Sysctls = map[string]string{"kernel.panic": "1"}
	if _, err := e.Sandboxes.RunPodSandbox(ctx, cfg, ""); !errors.Is(err, oci.ErrInvalid) {
		t.Errorf("node sysctl: %v", err)
	}
	cfg = e.PodConfig("parent")
	cfg.Linux.CgroupParent = "kubepods.slice"
	if _, err := e.Sandboxes.RunPodSandbox(ctx, cfg, ""); !errors.Is(err, oci.ErrInvalid) {
		t.Errorf("systemd parent with cgroupfs: %v", err)
	}
	cfg = e.PodConfig("seccomp")
	cfg.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{Seccomp: &runtimeapi.SecurityProfile{
		ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/nonexistent/profile.json"}}
	if _, err := e.Sandboxes.RunPodSandbox(ctx, cfg, ""); !errors.Is(err, runtime.ErrInvalidArgument) {
		t.Errorf("missing seccomp profile: %v", err)
	}
	if e.Store.Seq() != seq {
		t.Errorf("refused requests journaled %d events", e.Store.Seq()-seq)
	}

	// A duplicate name is AlreadyExists, until the first is removed.
	dup := e.PodConfig("dup")
	first := e.RunPod(dup)
	if _, err := e.Sandboxes.RunPodSandbox(ctx, dup, ""); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Errorf("duplicate: %v", err)
	}
	if err := e.Sandboxes.RemovePodSandbox(ctx, first); err != nil {
		t.Fatal(err)
	}
	e.RunPod(dup)
}

// TestHostNamespaces: a host-network, host-IPC pod has no namespace file,
// no /dev/shm of its own, and the host's /etc/hosts.
func TestHostNamespaces(t *testing.T) {
	e := containertest.New(t)
	cfg := e.PodConfig("hostnet")
	cfg.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_NODE, Ipc: runtimeapi.NamespaceMode_NODE}}
	id := e.RunPod(cfg)
	sb, _ := e.Store.Sandbox(id)
	if sb.NetNSPath != "" {
		t.Errorf("host-network pod has netns %q", sb.NetNSPath)
	}
	if _, err := os.Stat(e.Layout.NetNS(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns file made: %v", err)
	}
	if m := mountOf(t, e.Layout.SandboxShm(id)); m != nil {
		t.Error("host-IPC pod got a /dev/shm")
	}
	host, _ := os.ReadFile("/etc/hosts")
	if got, _ := os.ReadFile(e.Layout.SandboxHosts(id)); string(got) != string(host) {
		t.Errorf("hosts %q, want the host's", got)
	}
	var self, infra syscall.Stat_t
	syscall.Stat("/proc/self/ns/net", &self)
	syscall.Stat("/proc/"+itoa(sb.Pid)+"/ns/net", &infra)
	if self.Ino != infra.Ino {
		a, _ := os.Readlink("/proc/self/ns/net")
		b, _ := os.Readlink("/proc/" + itoa(sb.Pid) + "/ns/net")
		t.Errorf("infra of a host-network pod is not in the host's network namespace: %s vs %s", a, b)
	}
	if err := e.Sandboxes.StopPodSandbox(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if sb, _ := e.Store.Sandbox(id); sb.NetworkTornDown {
		t.Error("host network recorded as torn down")
	}
}

// TestInfraDeath: an infra process that dies on its own makes the sandbox
// NotReady.
func TestInfraDeath(t *testing.T) {
	e := containertest.New(t)
	id := e.RunPod(e.PodConfig("death"))
	sb, _ := e.Store.Sandbox(id)
	if err := syscall.Kill(int(sb.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sb, _ = e.Store.Sandbox(id)
		if sb.State == projector.SandboxNotReady && sb.NetworkTornDown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox after infra death: %+v", sb)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitGone(t, e, id)
}

// fakeNetwork records calls and fails on demand.
type fakeNetwork struct {
	mu                  sync.Mutex
	setups, teardowns   []string
	failSetup, failTear bool
	lastPrev            *events.SandboxNetwork
}

func (f *fakeNetwork) Setup(ctx context.Context, id, nsPath string, cfg *runtimeapi.PodSandboxConfig) (*events.SandboxNetwork, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setups = append(f.setups, id)
	if _, err := os.Stat(nsPath); err != nil {
		return nil, err
	}
	if f.failSetup {
		return nil, errors.New("setup refused")
	}
	return &events.SandboxNetwork{Ip: "10.99.0.7", NetworkName: "fake"}, nil
}

func (f *fakeNetwork) Teardown(ctx context.Context, id, nsPath string, cfg *runtimeapi.PodSandboxConfig, prev *events.SandboxNetwork) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.teardowns = append(f.teardowns, id)
	f.lastPrev = prev
	if f.failTear {
		return errors.New("teardown refused")
	}
	return nil
}

func (f *fakeNetwork) count() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.setups), len(f.teardowns)
}

// TestNetworkHook: the pod's IP comes from the hook and is journaled; a
// failed setup rolls everything back; a failed teardown keeps the
// namespace and is retried by the next stop.
func TestNetworkHook(t *testing.T) {
	n := &fakeNetwork{}
	e := containertest.New(t, containertest.WithNetwork(n))
	ctx := context.Background()
	id := e.RunPod(e.PodConfig("net"))
	sb, _ := e.Store.Sandbox(id)
	if sb.CRIStatus().GetNetwork().GetIp() != "10.99.0.7" {
		t.Errorf("pod ip %q", sb.CRIStatus().GetNetwork().GetIp())
	}
	if b, _ := os.ReadFile(e.Layout.SandboxHosts(id)); !strings.Contains(string(b), "10.99.0.7\tnet\n") {
		t.Errorf("hosts has no pod ip: %q", b)
	}

	n.failTear = true
	if err := e.Sandboxes.StopPodSandbox(ctx, id); err == nil {
		t.Fatal("stop with a failing teardown succeeded")
	}
	sb, _ = e.Store.Sandbox(id)
	if sb.State != projector.SandboxNotReady || sb.NetworkTornDown {
		t.Fatalf("after failed teardown: %+v", sb)
	}
	if _, err := os.Stat(sb.NetNSPath); err != nil {
		t.Fatalf("netns removed before teardown succeeded: %v", err)
	}
	n.failTear = false
	if err := e.Sandboxes.StopPodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	if sb, _ = e.Store.Sandbox(id); !sb.NetworkTornDown || n.lastPrev.GetIp() != "10.99.0.7" {
		t.Fatalf("retry: %+v, prev %v", sb, n.lastPrev)
	}

	n.failSetup = true
	seq := e.Store.Seq()
	_, err := e.Sandboxes.RunPodSandbox(ctx, e.PodConfig("fail"), "")
	if err == nil || !strings.Contains(err.Error(), "setup refused") {
		t.Fatalf("failed setup: %v", err)
	}
	if e.Store.Seq() != seq+2 {
		t.Errorf("a failed run journaled %d events, want creating and removed", e.Store.Seq()-seq)
	}
	if len(e.Store.ListSandboxes(&runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"test": "fail"}})) != 0 {
		t.Error("rolled back sandbox is visible")
	}
	if left := runtime.DirNames(filepath.Join(e.Layout.State, "netns")); len(left) != 0 {
		t.Errorf("netns entries %v left by the rollback (the first pod's is gone with its stop)", left)
	}
}

// TestRecovery: after a restart, a live infra is monitored again, one that
// died while the daemon was away is stopped, an interrupted creation is
// rolled back, and a teardown that never completed is done.
func TestRecovery(t *testing.T) {
	n := &fakeNetwork{}
	e := containertest.New(t, containertest.WithNetwork(n))
	ctx := context.Background()
	live := e.RunPod(e.PodConfig("live"))
	dead := e.RunPod(e.PodConfig("dead"))
	torn := e.RunPod(e.PodConfig("torn"))
	n.failTear = true
	if err := e.Sandboxes.StopPodSandbox(ctx, torn); err == nil {
		t.Fatal("teardown did not fail")
	}
	n.failTear = false

	// An interrupted RunPodSandbox: the intent, a namespace and a
	// directory, nothing else.
	half := runtime.NewID()
	hcfg := e.PodConfig("half")
	if _, err := e.Recorder.Record(ctx, runtime.Event{SandboxID: half, Payload: &events.SandboxCreating{
		Config: hcfg, NetnsPath: e.Layout.NetNS(half)}}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(e.Layout.SandboxDir(half), 0o711)
	os.WriteFile(e.Layout.NetNS(half), nil, 0o444)

	e.Crash()
	deadSb, _ := e.Store.Sandbox(dead)
	syscall.Kill(int(deadSb.Pid), syscall.SIGKILL)
	e.Restart()

	if sb, _ := e.Store.Sandbox(live); sb.State != projector.SandboxReady || !alive(sb.Pid) {
		t.Errorf("live sandbox after restart: %+v", sb)
	}
	// Stopped by recovery, or by its monitor when the shim was still
	// finishing as the daemon came back.
	waitState(t, e, dead, projector.SandboxNotReady)
	if sb, _ := e.Store.Sandbox(torn); !sb.NetworkTornDown {
		t.Errorf("pending teardown not retried: %+v", sb)
	}
	if _, ok := e.Store.Sandbox(half); ok || !e.Store.IDUsed(half) {
		t.Error("half-created sandbox not rolled back")
	}
	for _, p := range []string{e.Layout.NetNS(half), e.Layout.SandboxDir(half)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left by the rollback", p)
		}
	}
	// The live sandbox is still monitored: its infra's death is noticed.
	sb, _ := e.Store.Sandbox(live)
	syscall.Kill(int(sb.Pid), syscall.SIGKILL)
	waitState(t, e, live, projector.SandboxNotReady)
	// Names were reserved again: a duplicate of the live pod is refused.
	sbLive, _ := e.Store.Sandbox(live)
	if _, err := e.Sandboxes.RunPodSandbox(ctx, sbLive.Config, ""); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Errorf("duplicate after restart: %v", err)
	}
}

func waitState(t *testing.T, e *containertest.Env, id string, want projector.SandboxState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sb, ok := e.Store.Sandbox(id)
		if ok && sb.State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox %s: want %s, have %+v", id, want, sb)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSandboxImage: with a pod-sandbox-image, the infra runs that image's
// command on an overlay of its layers, pulled when absent; the pod works
// as with the built-in pause, and its removal leaves nothing.
func TestSandboxImage(t *testing.T) {
	const ref = "test.logbook.invalid/infra:1"
	e := containertest.New(t, containertest.WithSandboxImage(ref))
	e.Push(ref, func(c *v1.Config) { c.Entrypoint, c.Cmd = []string{"sleep"}, []string{"100000"} })
	if _, ok := e.Store.Image(ref); ok {
		t.Fatal("the image is present before the first pod")
	}
	ctx := context.Background()
	id := e.RunPod(e.PodConfig("img"))
	if _, ok := e.Store.Image(ref); !ok {
		t.Error("the pod-sandbox-image was not pulled")
	}
	sb, _ := e.Store.Sandbox(id)
	// runc start returns once the init is released; its exec follows.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmdline, _ := os.ReadFile("/proc/" + itoa(sb.Pid) + "/cmdline")
		if string(cmdline) == "sleep\x00100000\x00" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("infra runs %q", cmdline)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ok, _ := runtime.Mounted(e.Layout.Rootfs(id)); !ok {
		t.Error("the infra's rootfs is not mounted")
	}
	c := e.Create(id, e.ContainerConfig("c", "sleep", "1000"))
	e.Start(c)
	if err := e.Sandboxes.RemovePodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{e.Layout.Rootfs(id), e.Layout.ContainerDir(id)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
}
