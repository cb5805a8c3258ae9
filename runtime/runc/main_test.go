package runc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/runtime/shim"
)

// The suite runs real runc and real shims. TestMain builds the shim binary
// once; each test makes busybox bundles in its own temporary directory.
var (
	shimBinary string // built by TestMain
	busybox    string // a copy of /bin/busybox that bundles hard-link
	setupErr   error  // why the real-runc tests cannot run here
)

// cgroupParent is where test containers' cgroups go (every v1 controller).
const cgroupParent = "logbook-test"

const launcherEnv = "LOGBOOK_TEST_LAUNCHER"

func TestMain(m *testing.M) {
	if os.Getenv(launcherEnv) != "" {
		os.Exit(launcherMain())
	}
	dir, err := os.MkdirTemp("", "logbook-runc-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setupErr = setup(dir)
	// Orphaned shims (the launcher test kills their parent) are re-parented
	// to this process rather than to an init that may not reap, so that
	// Shim.Wait can reap them as it does shims it launched.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	code := m.Run()
	reapAll()
	os.RemoveAll(dir)
	removeCgroupParent()
	os.Exit(code)
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
	shimBinary = filepath.Join(dir, "logbook-shim")
	// Built as it ships: static, without cgo.
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", shimBinary,
		"github.com/logbook-cri/logbook/cmd/logbook-shim")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build shim: %v\n%s", err, out)
	}
	busybox = filepath.Join(dir, "busybox")
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return err
	}
	return os.WriteFile(busybox, b, 0o755)
}

// reapAll collects the zombies left to this sub-reaper.
func reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || pid <= 0 {
			return
		}
	}
}

func removeCgroupParent() {
	ctrls, _ := os.ReadDir("/sys/fs/cgroup")
	for _, c := range ctrls {
		os.Remove(filepath.Join("/sys/fs/cgroup", c.Name(), cgroupParent))
	}
}

// needRunc skips a test where real containers cannot run.
func needRunc(t testing.TB) {
	t.Helper()
	if setupErr != nil {
		t.Skip("real runc tests:", setupErr)
	}
}

// testEnv is one test's runc root and temporary space.
type testEnv struct {
	t    testing.TB
	r    *Runc
	root string
	dir  string
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	needRunc(t)
	dir := t.TempDir()
	level := slog.LevelDebug
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelInfo
	}
	r, err := New(Config{
		Root:       filepath.Join(dir, "runc"),
		ShimBinary: shimBinary,
		TempDir:    dir,
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, r: r, root: r.Root(), dir: dir}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// ctr describes a test container.
type ctr struct {
	args                  []string
	stdin, stdinOnce, tty bool
	hostPID               bool // no pid namespace: orphans go to the shim
	noLog                 bool
	stateDir              string // "" for a fresh one
}

// created is a test container: its options and its shim.
type created struct {
	CreateOptions
	shim *Shim
}

func uniqueID(t testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if len(name) > 30 {
		name = name[:30]
	}
	return strings.ToLower(name) + "-" + hex.EncodeToString(b[:])
}

// create makes a bundle and a container from it (not started), and
// registers its force-deletion.
func (e *testEnv) create(c ctr) *created {
	t := e.t
	t.Helper()
	o := e.options(c)
	s, err := e.r.Create(context.Background(), o)
	if err != nil {
		t.Fatalf("create %s: %v", o.ID, err)
	}
	made := &created{CreateOptions: o, shim: s}
	// made.shim, not s: a test may swap in a fresh handle.
	t.Cleanup(func() { e.destroy(o.ID, made.shim) })
	return made
}

func (e *testEnv) options(c ctr) CreateOptions {
	t := e.t
	t.Helper()
	id := uniqueID(t)
	bundle := makeBundle(t, filepath.Join(e.dir, id), id, c.args, c.tty, c.hostPID)
	o := CreateOptions{
		ID: id, Bundle: bundle, StateDir: c.stateDir,
		Stdin: c.stdin, StdinOnce: c.stdinOnce, Terminal: c.tty,
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(e.dir, id, "state")
	}
	if !c.noLog {
		o.LogPath = filepath.Join(e.dir, id, "ctr.log")
	}
	return o
}

// destroy force-deletes the container and waits for its shim to go.
func (e *testEnv) destroy(id string, s *Shim) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.r.Delete(ctx, id, true); err != nil {
		e.t.Errorf("cleanup: delete %s: %v", id, err)
	}
	if s != nil {
		if _, err := s.Wait(ctx); err != nil && !errors.Is(err, ErrShimDied) {
			e.t.Errorf("cleanup: shim of %s: %v", id, err)
		}
		s.Close()
	}
}

func (e *testEnv) start(c *created) {
	e.t.Helper()
	if err := e.r.Start(context.Background(), c.ID); err != nil {
		e.t.Fatalf("start %s: %v", c.ID, err)
	}
}

func (e *testEnv) wait(c *created) shim.Exit {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ex, err := c.shim.Wait(ctx)
	if err != nil {
		e.t.Fatalf("wait %s: %v", c.ID, err)
	}
	return ex
}

// makeBundle writes a bundle under dir: a read-only busybox rootfs and a
// config.json in the shape `runc spec` would write, with the container's
// cgroup under cgroupParent.
func makeBundle(t testing.TB, dir, id string, args []string, tty, hostPID bool) string {
	t.Helper()
	bin := filepath.Join(dir, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"proc", "dev", "sys", "tmp"} {
		os.MkdirAll(filepath.Join(dir, "rootfs", d), 0o755)
	}
	for _, applet := range []string{"busybox", "sh", "echo", "cat", "sleep", "stty", "tr", "head", "true", "tty"} {
		if err := os.Link(busybox, filepath.Join(bin, applet)); err != nil {
			t.Fatal(err)
		}
	}
	spec := testSpec(id, args, tty)
	if hostPID {
		spec.Linux.Namespaces = spec.Linux.Namespaces[1:]
	}
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testSpec(id string, args []string, tty bool) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: "1.0.2-dev",
		Process: &specs.Process{
			Terminal: tty,
			Args:     args,
			Env:      []string{"PATH=/bin", "TERM=xterm"},
			Cwd:      "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "logbook-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: "/" + cgroupParent + "/" + id,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths:   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// readLog parses every entry of a CRI log file, failing on any bad line.
func readLog(t testing.TB, path string) []shim.LogEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []shim.LogEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e, err := shim.ParseLogEntry(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		e.Message = bytes.Clone(e.Message)
		out = append(out, e)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return out
}

// messages is the text of the full lines of one stream, partial entries
// joined.
func messages(entries []shim.LogEntry, s shim.Stream) []string {
	var out []string
	var cur []byte
	for _, e := range entries {
		if e.Stream != s {
			continue
		}
		cur = append(cur, e.Message...)
		if !e.Partial {
			out = append(out, string(cur))
			cur = nil
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// launcherMain is the test binary re-executed as a stand-in for logbookd:
// it creates a container whose shim it launches, says so on stdout and
// waits to be killed.
func launcherMain() int {
	var o CreateOptions
	if err := json.Unmarshal([]byte(os.Getenv(launcherEnv)), &o); err != nil {
		fmt.Println("error", err)
		return 1
	}
	r, err := New(Config{Root: os.Getenv("LOGBOOK_TEST_RUNC_ROOT"), ShimBinary: os.Getenv("LOGBOOK_TEST_SHIM")})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	s, err := r.Create(context.Background(), o)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready", s.Pid(), s.InitPid())
	io.Copy(io.Discard, os.Stdin) // until killed
	return 0
}
