package containertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/container"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/runc"
	"github.com/logbook-cri/logbook/runtime/sandbox"
)

// CgroupParent is where the cgroups of test pods go, in every hierarchy.
const CgroupParent = "logbook-test"

// BusyboxRef is the name the test image is pulled and tagged under.
const BusyboxRef = "test.logbook.invalid/busybox:latest"

var (
	binDir   string // the shim and pause binaries
	setupErr error  // why real containers cannot run here
	layerTar []byte // the busybox image's one layer
)

// Main is TestMain for a package using this one: it builds the shim
// (static, without cgo, as it ships) and pause binaries, becomes a child
// sub-reaper (so shims orphaned by a simulated crash are reaped here, not
// left as zombies of an init that may not reap), runs the tests, then
// removes what they left.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "logbook-containertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	setupErr = setup(dir)
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	stop := startReaper()
	code := m.Run()
	stop()
	removeCgroupParent()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startReaper reaps the orphans that come to this sub-reaper (shims whose
// launcher went away) on every SIGCHLD. Children this process waits for
// itself (exec.Cmd) are never taken: only pids no exec.Cmd started are
// reaped, found with WNOWAIT first.
func startReaper() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			ReapOrphans()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait(); ReapOrphans() }
}

// ReapOrphans reaps the zombies among this process's children that no Wait
// elsewhere expects: container processes (in a pid namespace of their
// own) re-parented here when their shim died, and shims, whose handles
// reap through a pidfd that tolerates an earlier reap. The children that
// exec.Cmd waits for (runc, the compilers) are never taken.
func ReapOrphans() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, e := range ents {
		pid := 0
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid <= 0 {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		f := statusFields(status)
		if f["PPid"] != fmt.Sprint(self) || !strings.HasPrefix(f["State"], "Z") {
			continue
		}
		inContainer := len(strings.Fields(f["NStgid"])) > 1
		if !inContainer && f["Name"] != "logbook-shim" {
			continue
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}

func statusFields(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func setup(dir string) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return err
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		return fmt.Errorf("busybox-static: %w", err)
	}
	_, file, _, _ := goruntime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..", "..")
	goBin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	build := exec.Command(goBin, "build", "-o", filepath.Join(dir, "logbook-shim"), "./cmd/logbook-shim")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build shim: %v\n%s", err, out)
	}
	cc := exec.Command("cc", "-static", "-Os", "-o", filepath.Join(dir, "logbook-pause"), filepath.Join(repo, "cmd", "logbook-pause", "pause.c"))
	if out, err := cc.CombinedOutput(); err != nil {
		return fmt.Errorf("build pause: %v\n%s", err, out)
	}
	var err error
	layerTar, err = busyboxLayer()
	return err
}

// Applets are the busybox commands the test image has, as hard links.
var Applets = []string{"sh", "top", "sleep", "echo", "cat", "ls", "id", "touch", "mkdir", "true", "false",
	"hostname", "grep", "kill", "ps", "dd", "env", "pwd", "test", "["}

// busyboxLayer is the test image's layer: /bin/busybox with its applets as
// hard links, /etc/passwd and /etc/group (with a user in a group of the
// image, for supplemental group tests), and a world-writable /tmp.
func busyboxLayer() ([]byte, error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"etc/", 0o755}, {"tmp/", 0o1777}, {"root/", 0o700}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))}); err != nil {
		return nil, err
	}
	tw.Write(bb)
	for _, a := range Applets {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: "bin/" + a, Linkname: "bin/busybox"}); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\ndefault-user:x:1000:1000::/tmp:/bin/sh\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\ndefault-user:x:1000:\nimage-group:x:50000:default-user\n",
	}
	for _, n := range []string{"etc/passwd", "etc/group"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n]))}); err != nil {
			return nil, err
		}
		tw.Write([]byte(files[n]))
	}
	return buf.Bytes(), tw.Close()
}

// Need skips t where real containers cannot run.
func Need(t testing.TB) {
	t.Helper()
	if setupErr != nil {
		t.Skip("real container tests:", setupErr)
	}
}

// PauseBinary and ShimBinary are the binaries Main built.
func PauseBinary() string { return filepath.Join(binDir, "logbook-pause") }
func ShimBinary() string  { return filepath.Join(binDir, "logbook-shim") }

// Env is one test's daemon, without the gRPC front.
type Env struct {
	T        testing.TB
	Dir      string
	Layout   runtime.Layout
	Log      *slog.Logger
	Host     oci.Host
	Cgroups  cgroups.Host
	Journal  *journal.Journal
	Store    *projector.Store
	Recorder runtime.Recorder
	Locks    *runtime.Locks
	Names    *runtime.Names
	Runc     *runc.Runc
	Images   *image.Store
	// Network is handed to the sandbox aggregate (nil: loopback only).
	Network sandbox.Network
	// SandboxImage is the pod-sandbox-image ("": the built-in pause).
	SandboxImage string
	Sandboxes    *sandbox.Service
	Containers   *container.Service

	// ImageID is the busybox image's ID.
	ImageID string

	registry *httptest.Server
	closed   bool
}

// New starts an Env and registers its teardown: every pod is stopped and
// removed, the services closed, and the test fails if anything of the
// pods is left (runc containers, mounts, directories).
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	Need(t)
	dir := t.TempDir()
	e := &Env{
		T: t, Dir: dir,
		Layout: runtime.Layout{Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state")},
		Log:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(e)
	}
	var err error
	if e.Cgroups, err = cgroups.Detect(); err != nil {
		t.Fatal(err)
	}
	e.Host, err = runtime.DetectHost(context.Background(), runtime.HostOptions{Cgroups: e.Cgroups, Driver: cgroups.DriverCgroupfs, Runc: "runc"})
	if err != nil {
		t.Fatal(err)
	}
	e.Host.DefaultCgroupParent = CgroupParent
	e.registry = httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(e.registry.Close)
	e.open()
	e.ImageID = e.pushAndPull(BusyboxRef, nil)
	t.Cleanup(e.teardown)
	return e
}

// Option changes an Env before it opens.
type Option func(*Env)

// WithNetwork gives the sandbox aggregate a network hook.
func WithNetwork(n sandbox.Network) Option { return func(e *Env) { e.Network = n } }

// WithSandboxImage runs pods' infra from an image (the daemon's
// pod-sandbox-image), pulled through Env.Pull when absent.
func WithSandboxImage(ref string) Option { return func(e *Env) { e.SandboxImage = ref } }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// open opens the journal, rebuilds the projection and builds the
// services, as the daemon does at start (without recovery).
func (e *Env) open() {
	t := e.T
	t.Helper()
	for _, d := range []string{e.Layout.Root, e.Layout.State} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	var store *projector.Store
	j, err := journal.Open(e.Layout.Journal(), journal.Options{OnCommit: func(r []journal.Record) { store.ApplyRecords(r) }})
	if err != nil {
		t.Fatal(err)
	}
	state, err := projector.Load(context.Background(), j, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	store = projector.NewStore(state, e.Log)
	e.Journal, e.Store = j, store
	e.Recorder = runtime.Recorder{Journal: j}
	e.Locks, e.Names = &runtime.Locks{}, &runtime.Names{}
	if e.Runc, err = runc.New(runc.Config{Root: e.Layout.RuncRoot(), ShimBinary: ShimBinary(), TempDir: e.Dir, Logger: e.Log}); err != nil {
		t.Fatal(err)
	}
	if e.Images, err = image.Open(e.Layout.Images(), image.Options{
		Mirrors: map[string][]string{"test.logbook.invalid": {e.registry.URL}},
		Logger:  e.Log,
	}); err != nil {
		t.Fatal(err)
	}
	if e.Containers, err = container.New(container.Config{
		Layout: e.Layout, Projection: store, Recorder: e.Recorder, Locks: e.Locks, Names: e.Names,
		Runc: e.Runc, Host: e.Host, Images: e.Images, Cgroups: e.Cgroups, Logger: e.Log,
	}); err != nil {
		t.Fatal(err)
	}
	if e.Sandboxes, err = sandbox.New(sandbox.Config{
		Layout: e.Layout, Projection: store, Recorder: e.Recorder, Locks: e.Locks, Names: e.Names,
		Runc: e.Runc, Host: e.Host, PauseBinary: PauseBinary(), Network: e.Network,
		SandboxImage: e.SandboxImage, Images: e.Images, Puller: puller{e},
		Containers: e.Containers, Logger: e.Log,
	}); err != nil {
		t.Fatal(err)
	}
	e.closed = false
}

// close stops the services and closes the journal and the image store;
// containers and infra processes keep running.
func (e *Env) close() {
	if e.closed {
		return
	}
	e.closed = true
	e.Sandboxes.Close()
	e.Containers.Close()
	e.Images.Close()
	e.Journal.Close()
}

// Restart is a daemon restart: everything is closed but the pods, then
// opened again and recovered (containers, sandboxes, leaks), in the order
// logbookd follows.
func (e *Env) Restart() {
	e.T.Helper()
	e.close()
	e.open()
	e.Recover()
}

// Recover runs the recovery of both aggregates and the leak scan.
func (e *Env) Recover() {
	e.T.Helper()
	ctx := context.Background()
	if err := e.Containers.Recover(ctx); err != nil {
		e.T.Errorf("container recovery: %v", err)
	}
	if err := e.Sandboxes.Recover(ctx); err != nil {
		e.T.Errorf("sandbox recovery: %v", err)
	}
	if err := e.Containers.CleanLeaks(ctx); err != nil {
		e.T.Errorf("leak scan: %v", err)
	}
}

// Crash drops the services' handles without stopping anything, as a
// SIGKILL of the daemon would: monitors end, shims run on, the journal is
// closed.
func (e *Env) Crash() {
	e.close()
}

// teardown removes every pod and checks that nothing is left.
func (e *Env) teardown() {
	t := e.T
	if e.closed {
		e.open()
		e.Recover()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, sb := range e.Store.ListSandboxes(nil) {
		if err := e.Sandboxes.RemovePodSandbox(ctx, sb.ID); err != nil {
			t.Errorf("teardown: remove sandbox %s: %v", sb.ID, err)
		}
	}
	e.close()
	e.CheckNoLeaks()
}

// CheckNoLeaks fails the test if runc knows a container, something is
// mounted under the root or state directory, or a pod directory is left.
func (e *Env) CheckNoLeaks() {
	t := e.T
	t.Helper()
	r, err := runc.New(runc.Config{Root: e.Layout.RuncRoot()})
	if err == nil {
		if sts, err := r.List(context.Background()); err == nil && len(sts) > 0 {
			t.Errorf("runc still knows %d containers: %v", len(sts), sts)
		}
	}
	for _, dir := range []string{e.Layout.Root, e.Layout.State} {
		ms, err := runtime.MountsUnder(dir)
		if err != nil {
			t.Error(err)
		}
		if len(ms) > 0 {
			t.Errorf("mounts left under %s: %v", dir, ms)
			for _, m := range ms {
				runtime.Unmount(m)
			}
		}
	}
	for _, d := range []string{"bundles", "shims", "sandboxes", "netns"} {
		if left := runtime.DirNames(filepath.Join(e.Layout.State, d)); len(left) > 0 {
			t.Errorf("%s left in %s: %v", d, e.Layout.State, left)
		}
	}
	if left := runtime.DirNames(filepath.Join(e.Layout.Root, "containers")); len(left) > 0 {
		t.Errorf("writable layers left: %v", left)
	}
}

// puller pulls a pod-sandbox-image for the sandbox aggregate.
type puller struct{ e *Env }

func (p puller) PullImage(ctx context.Context, ref string) (string, error) { return p.e.Pull(ref), nil }

// pushAndPull puts an image with the busybox layer (and the given config
// changes) in the registry as ref, pulls it into the store, and journals
// it as the image aggregate would; it returns the image ID.
func (e *Env) pushAndPull(ref string, edit func(*v1.Config)) string {
	e.T.Helper()
	e.Push(ref, edit)
	return e.Pull(ref)
}

// Push puts an image with the busybox layer (and the given config changes)
// in the registry as ref, without pulling it.
func (e *Env) Push(ref string, edit func(*v1.Config)) {
	t := e.T
	t.Helper()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if edit != nil {
		edit(&cf.Config)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.registry.URL, "http://")
	path := strings.TrimPrefix(ref, "test.logbook.invalid/")
	dst, err := name.ParseReference(host+"/"+path, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
}

// Pull pulls ref into the store and journals image.pulled and its names.
func (e *Env) Pull(ref string) string {
	t := e.T
	t.Helper()
	ctx := context.Background()
	p, err := e.Images.Pull(ctx, ref, nil)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	defer p.Release()
	evs := []runtime.Event{{Payload: &events.ImagePulled{
		ImageId: p.ID, ManifestDigest: p.ManifestDigest, Size: uint64(p.Size), Config: p.Config,
		ChainIds: p.ChainIDs, Annotations: p.Annotations,
	}}}
	for _, n := range []string{p.Name, p.RepoDigest} {
		if img, ok := e.Store.Image(n); ok && slices.Contains(img.Names, n) {
			continue
		}
		evs = append(evs, runtime.Event{Payload: &events.ImageTagged{ImageId: p.ID, Name: n}})
	}
	if _, err := e.Recorder.Record(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// PushImage makes another image from the busybox layer with edited config
// (USER, STOPSIGNAL, ...) available as ref and returns its ID.
func (e *Env) PushImage(ref string, edit func(*v1.Config)) string {
	e.T.Helper()
	return e.pushAndPull(ref, edit)
}

// UID returns a fresh suffix for unique names.
func UID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// PodConfig is a minimal pod: unique metadata, a log directory of its own,
// a hostname.
func (e *Env) PodConfig(name string) *runtimeapi.PodSandboxConfig {
	uid := UID()
	logDir := filepath.Join(e.Dir, "logs", name+"-"+uid)
	os.MkdirAll(logDir, 0o755)
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "ns-" + uid, Uid: "uid-" + uid, Attempt: 1},
		Hostname:     name,
		LogDirectory: logDir,
		Labels:       map[string]string{"test": name},
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
}

// ContainerConfig is a busybox container running cmd, logging to
// <name>.log.
func (e *Env) ContainerConfig(name string, cmd ...string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: BusyboxRef},
		Command:  cmd,
		LogPath:  name + ".log",
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}
}

// RunPod runs a pod and fails the test if it cannot.
func (e *Env) RunPod(cfg *runtimeapi.PodSandboxConfig) string {
	e.T.Helper()
	id, err := e.Sandboxes.RunPodSandbox(context.Background(), cfg, "")
	if err != nil {
		e.T.Fatalf("RunPodSandbox: %v", err)
	}
	return id
}

// Create creates a container and fails the test if it cannot.
func (e *Env) Create(sandboxID string, cfg *runtimeapi.ContainerConfig) string {
	e.T.Helper()
	id, err := e.Containers.CreateContainer(context.Background(), sandboxID, cfg)
	if err != nil {
		e.T.Fatalf("CreateContainer: %v", err)
	}
	return id
}

// Start starts a container and fails the test if it cannot.
func (e *Env) Start(id string) {
	e.T.Helper()
	if err := e.Containers.StartContainer(context.Background(), id); err != nil {
		e.T.Fatalf("StartContainer: %v", err)
	}
}

// WaitContainer polls the projection until the container satisfies cond.
func (e *Env) WaitContainer(id string, d time.Duration, what string, cond func(*projector.Container) bool) *projector.Container {
	e.T.Helper()
	deadline := time.Now().Add(d)
	for {
		c, ok := e.Store.Container(id)
		if ok && cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("container %s: timed out after %v waiting for %s (now %+v)", id, d, what, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Exited waits until the container has exited.
func (e *Env) Exited(id string, d time.Duration) *projector.Container {
	e.T.Helper()
	return e.WaitContainer(id, d, "its exit", func(c *projector.Container) bool { return c.State == projector.ContainerExited })
}

// removeCgroupParent removes the test cgroup parent in every hierarchy.
func removeCgroupParent() {
	ctrls, _ := os.ReadDir("/sys/fs/cgroup")
	for _, c := range ctrls {
		os.Remove(filepath.Join("/sys/fs/cgroup", c.Name(), CgroupParent))
	}
}
