package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runcHarness runs throwaway containers from the built images with the
// host's runc, with a state directory of its own so nothing else on the
// machine sees them, and removes every one it started.
type runcHarness struct {
	t     *testing.T
	bin   string
	state string
}

func newRunc(t *testing.T) *runcHarness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running containers needs root")
	}
	bin, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed")
	}
	return &runcHarness{t: t, bin: bin, state: t.TempDir()}
}

// containerOpts is what varies between the test containers.
type containerOpts struct {
	Args        []string // default: the image's entrypoint and cmd
	UID, GID    uint32
	NoNewPrivs  bool
	MaskedPaths []string
}

// rootfs unpacks the images, in order, into a fresh directory.
func (r *runcHarness) rootfs(imgs ...v1.Image) string {
	r.t.Helper()
	dir := filepath.Join(r.t.TempDir(), "rootfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	for _, img := range imgs {
		for _, l := range imageLayers(r.t, img) {
			rc, err := l.Uncompressed()
			if err != nil {
				r.t.Fatal(err)
			}
			err = unpack(rc, dir)
			rc.Close()
			if err != nil {
				r.t.Fatal(err)
			}
		}
	}
	return dir
}

// unpack extracts a layer the way a runtime would: owners and modes as
// recorded (the setuid bit set after the chown that would clear it), hard
// links as links. The images have no whiteouts.
func unpack(r io.Reader, root string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if !validPath(name) {
			return fmt.Errorf("%w: %q", ErrBadEntry, h.Name)
		}
		p := filepath.Join(root, name)
		mode := os.FileMode(h.Mode & 0o777)
		if h.Mode&modeSetuid != 0 {
			mode |= os.ModeSetuid
		}
		if h.Mode&modeSetgid != 0 {
			mode |= os.ModeSetgid
		}
		if h.Mode&modeSticky != 0 {
			mode |= os.ModeSticky
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			_ = os.Remove(p)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.Remove(p)
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
			if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
				return err
			}
			continue
		case tar.TypeLink:
			_ = os.Remove(p)
			if err := os.Link(filepath.Join(root, path.Clean(h.Linkname)), p); err != nil {
				return err
			}
			continue
		default:
			return fmt.Errorf("unexpected tar entry type %c for %s", h.Typeflag, h.Name)
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	}
}

// bundle writes an OCI bundle running opts in rootfs and returns its
// directory and a fresh container ID.
func (r *runcHarness) bundle(rootfs string, img v1.Image, opts containerOpts) (string, string) {
	r.t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		r.t.Fatal(err)
	}
	args := opts.Args
	if args == nil {
		args = append(append([]string{}, cf.Config.Entrypoint...), cf.Config.Cmd...)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		r.t.Fatal(err)
	}
	id := "lbti-" + hex.EncodeToString(rnd[:])
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	spec := specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: rootfs},
		Process: &specs.Process{
			Args:            args,
			Env:             cf.Config.Env,
			Cwd:             "/",
			User:            specs.User{UID: opts.UID, GID: opts.GID},
			NoNewPrivileges: opts.NoNewPrivs,
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: "testimages",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace},
			},
			CgroupsPath: "/logbook-testimages-" + id,
			MaskedPaths: opts.MaskedPaths,
		},
	}
	dir := r.t.TempDir()
	b, err := json.Marshal(spec)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { r.remove(id) })
	return dir, id
}

func (r *runcHarness) cmd(args ...string) *exec.Cmd {
	return exec.Command(r.bin, append([]string{"--root", r.state}, args...)...)
}

func (r *runcHarness) remove(id string) {
	_ = r.cmd("kill", id, "KILL").Run()
	_ = r.cmd("delete", "--force", id).Run()
}

// result is how a process ended.
type result struct {
	Stdout, Stderr string
	Exit           int
}

func runCmd(c *exec.Cmd) (result, error) {
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return result{stdout.String(), stderr.String(), exit.ExitCode()}, nil
	}
	return result{stdout.String(), stderr.String(), 0}, err
}

// run runs a container to completion in the foreground.
func (r *runcHarness) run(img v1.Image, rootfs string, opts containerOpts) result {
	r.t.Helper()
	dir, id := r.bundle(rootfs, img, opts)
	res, err := runCmd(r.cmd("run", "--bundle", dir, id))
	if err != nil {
		r.t.Fatalf("runc run: %v: %s", err, res.Stderr)
	}
	return res
}

// start starts a container in the background, its output in files, and
// returns its ID, its host PID and the path of its stderr file.
func (r *runcHarness) start(img v1.Image, rootfs string, opts containerOpts) (id string, pid int, stderrPath string) {
	r.t.Helper()
	dir, id := r.bundle(rootfs, img, opts)
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer stderr.Close()
	c := r.cmd("run", "--detach", "--bundle", dir, id)
	c.Stdout, c.Stderr = stdout, stderr
	if err := c.Run(); err != nil {
		msg, _ := os.ReadFile(stderr.Name())
		r.t.Fatalf("runc run --detach: %v: %s", err, msg)
	}
	return id, r.pid(id), stderr.Name()
}

func (r *runcHarness) pid(id string) int {
	r.t.Helper()
	res, err := runCmd(r.cmd("state", id))
	if err != nil || res.Exit != 0 {
		r.t.Fatalf("runc state %s: %v: %s", id, err, res.Stderr)
	}
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		r.t.Fatal(err)
	}
	return st.Pid
}

// httpGet sends GET / to addr inside the network namespace of pid and
// returns the status code and body.
func httpGet(pid int, addr string) (int, string, error) {
	type dialed struct {
		conn net.Conn
		err  error
	}
	ch := make(chan dialed, 1)
	go func() {
		// The thread enters the container's network namespace and is never
		// unlocked, so it ends with this goroutine instead of returning to
		// the scheduler in the wrong namespace.
		runtime.LockOSThread()
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- dialed{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- dialed{err: err}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		ch <- dialed{c, err}
	}()
	d := <-ch
	if d.err != nil {
		return 0, "", d.err
	}
	defer d.conn.Close()
	_ = d.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(d.conn, "GET / HTTP/1.0\r\nHost: test\r\n\r\n"); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(d.conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// getOK polls until GET / inside the container answers 200 and returns the
// body.
func getOK(t *testing.T, pid int, addr string) string {
	t.Helper()
	var body string
	waitForErr(t, 20*time.Second, "HTTP 200 from "+addr, func() error {
		code, b, err := httpGet(pid, addr)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("status %d", code)
		}
		body = b
		return nil
	})
	return body
}

func testContainers(t *testing.T, dir string) {
	r := newRunc(t)
	busybox := imageByRef(t, dir, "registry.k8s.io/e2e-test-images/busybox:1.29-2")

	t.Run("Busybox", func(t *testing.T) {
		r := &runcHarness{t: t, bin: r.bin, state: r.state}
		rootfs := r.rootfs(busybox)
		empty := func(s string) bool { return s == "" }
		tests := []struct {
			name   string
			opts   containerOpts
			exit   int
			stdout func(string) bool
			stderr func(string) bool
		}{
			{"sh -c ls", containerOpts{Args: []string{"sh", "-c", "ls /"}}, 0,
				func(s string) bool { return strings.Contains(s, "bin\n") && strings.Contains(s, "etc\n") }, empty},
			// critest's MaskedPaths spec: the shell must exec /bin/ls from
			// the file system and meet the mask, not run the applet.
			{"masked /bin/ls", containerOpts{Args: []string{"/bin/sh", "-c", "ls"}, MaskedPaths: []string{"/bin/ls"}}, 127,
				empty, func(s string) bool { return s == "/bin/sh: ls: Permission denied\n" }},
			// pgrep polls until the background sleep has exec'd, for at
			// most ten seconds.
			{"pgrep", containerOpts{Args: []string{"sh", "-c", "sleep 60 & timeout 10 sh -c 'until pgrep -x sleep; do :; done'"}}, 0,
				func(s string) bool { _, err := strconv.Atoi(strings.TrimSpace(s)); return err == nil }, empty},
			{"ipcs -m", containerOpts{Args: []string{"ipcs", "-m"}}, 0,
				func(s string) bool { return strings.Contains(s, "Shared Memory Segments") }, empty},
			{"id as nobody", containerOpts{Args: []string{"id", "-nu"}, UID: 65534, GID: 65534}, 0,
				func(s string) bool { return s == "nobody\n" }, empty},
			// `sleep infinity` must sleep (timeout kills it: 128+SIGTERM),
			// not fail on its argument.
			{"sleep infinity", containerOpts{Args: []string{"sh", "-c", "timeout 1 sleep infinity; echo $?"}}, 0,
				func(s string) bool { return s == "143\n" }, func(string) bool { return true }},
		}
		for _, tt := range tests {
			res := r.run(busybox, rootfs, tt.opts)
			if res.Exit != tt.exit || !tt.stdout(res.Stdout) || !tt.stderr(res.Stderr) {
				t.Errorf("%s: exit %d stdout %q stderr %q; want exit %d", tt.name, res.Exit, res.Stdout, res.Stderr, tt.exit)
			}
		}

		// The control: Debian's busybox-static (the host's /bin/busybox) is
		// built with a standalone shell, which runs ls in-process and never
		// meets the mask. The case above must tell the two builds apart.
		host, err := os.ReadFile("/bin/busybox")
		if err != nil {
			t.Logf("no /bin/busybox on the host, skipping the control: %v", err)
			return
		}
		standalone := r.rootfs(busybox)
		// Every applet is a hard link to this inode: rewriting it in place
		// swaps the binary under all of them.
		if err := os.WriteFile(filepath.Join(standalone, "bin", "busybox"), host, 0o755); err != nil {
			t.Fatal(err)
		}
		res := r.run(busybox, standalone, containerOpts{Args: []string{"/bin/sh", "-c", "ls"}, MaskedPaths: []string{"/bin/ls"}})
		if res.Exit != 0 || !strings.Contains(res.Stdout, "bin") {
			t.Errorf("a standalone-shell busybox should run ls in-process despite the mask: %+v", res)
		}
	})

	for _, tc := range []struct{ ref, port string }{
		{"registry.k8s.io/e2e-test-images/nginx:1.14-2", "80"},
		{"gcr.io/k8s-staging-cri-tools/hostnet-nginx-amd64:latest", "12003"},
	} {
		t.Run("Nginx:"+tc.port, func(t *testing.T) {
			r := &runcHarness{t: t, bin: r.bin, state: r.state}
			img := imageByRef(t, dir, tc.ref)
			rootfs := r.rootfs(img)
			_, pid, stderrPath := r.start(img, rootfs, containerOpts{})
			pidFile := filepath.Join(rootfs, "var", "run", "nginx.pid")
			waitFor(t, 20*time.Second, "/var/run/nginx.pid", func() bool {
				b, err := os.ReadFile(pidFile)
				return err == nil && strings.HasSuffix(string(b), "\n")
			})
			if b, _ := os.ReadFile(pidFile); string(b) != "1\n" {
				t.Errorf("nginx.pid holds %q, want the master as PID 1", b)
			}
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil || !strings.Contains(string(cmdline), "nginx: master process") {
				t.Errorf("PID 1 cmdline %q (%v), want nginx's master process title", cmdline, err)
			}
			if body := getOK(t, pid, "127.0.0.1:"+tc.port); !strings.Contains(body, "Welcome to nginx") {
				t.Errorf("GET / returned %q", body)
			}
			// The worker switched to www-data, which the image's
			// /etc/passwd resolves.
			children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
			if err != nil || len(strings.Fields(string(children))) == 0 {
				t.Fatalf("nginx has no worker: %q %v", children, err)
			}
			status, _ := os.ReadFile("/proc/" + strings.Fields(string(children))[0] + "/status")
			if !strings.Contains(string(status), "\nUid:\t33\t33\t33\t33\n") {
				t.Errorf("worker status:\n%s", status)
			}
			if msg, _ := os.ReadFile(stderrPath); strings.Contains(string(msg), "[emerg]") {
				t.Errorf("nginx stderr: %s", msg)
			}
		})
	}

	t.Run("Httpd", func(t *testing.T) {
		r := &runcHarness{t: t, bin: r.bin, state: r.state}
		img := imageByRef(t, dir, "registry.k8s.io/e2e-test-images/httpd:2.4.39-4")
		_, pid, stderrPath := r.start(img, r.rootfs(img), containerOpts{})
		if body := getOK(t, pid, "127.0.0.1:80"); !strings.Contains(body, "It works!") {
			t.Errorf("GET / returned %q", body)
		}
		waitFor(t, 10*time.Second, `"httpd" in the log`, func() bool {
			b, _ := os.ReadFile(stderrPath)
			return strings.Contains(string(b), "AH00558: httpd:")
		})
	})

	t.Run("NoNewPrivs", func(t *testing.T) {
		r := &runcHarness{t: t, bin: r.bin, state: r.state}
		img := imageByRef(t, dir, "registry.k8s.io/e2e-test-images/nonewprivs:1.3")
		rootfs := r.rootfs(img)
		for _, tt := range []struct {
			nnp  bool
			want string
		}{{false, "Effective uid: 0\n"}, {true, "Effective uid: 1000\n"}} {
			res := r.run(img, rootfs, containerOpts{UID: 1000, GID: 1000, NoNewPrivs: tt.nnp})
			if res.Exit != 0 || res.Stdout != tt.want {
				t.Errorf("no_new_privs=%v: exit %d stdout %q stderr %q, want %q", tt.nnp, res.Exit, res.Stdout, res.Stderr, tt.want)
			}
		}
	})

	t.Run("Pause", func(t *testing.T) { testPauseAsPID1(t, r, dir, busybox) })
}

// testPauseAsPID1 runs the pause image's entrypoint as PID 1 (with busybox
// beside it to make orphans), checks that it reaps them, and that SIGTERM
// ends it with status 0.
func testPauseAsPID1(t *testing.T, parent *runcHarness, dir string, busybox v1.Image) {
	r := &runcHarness{t: t, bin: parent.bin, state: parent.state}
	pause := imageByRef(t, dir, "registry.k8s.io/pause:3.9")
	cf, err := pause.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65535:65535" {
		t.Fatalf("pause runs as %q", cf.Config.User)
	}
	rootfs := r.rootfs(busybox, pause)
	bundle, id := r.bundle(rootfs, pause, containerOpts{UID: 65535, GID: 65535})
	run := r.cmd("run", "--bundle", bundle, id)
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	waited := false
	defer func() {
		if !waited {
			r.remove(id)
			<-exited
		}
	}()

	var pid int
	waitFor(t, 20*time.Second, "the pause container to run", func() bool {
		res, err := runCmd(r.cmd("state", id))
		if err != nil || res.Exit != 0 {
			return false
		}
		var st struct {
			Pid    int    `json:"pid"`
			Status string `json:"status"`
		}
		if json.Unmarshal([]byte(res.Stdout), &st) != nil || st.Status != "running" {
			return false
		}
		pid = st.Pid
		return true
	})
	if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(cmdline) != "/pause\x00" {
		t.Fatalf("PID 1 is %q", cmdline)
	}

	// The shell exits at once and leaves sleep, detached from the exec's
	// output pipes, to the namespace's init.
	res, err := runCmd(r.cmd("exec", "--user", "0:0", id, "sh", "-c", "sleep 3 </dev/null >/dev/null 2>&1 & echo $!"))
	if err != nil || res.Exit != 0 {
		t.Fatalf("runc exec: %v %+v", err, res)
	}
	children := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	waitFor(t, 10*time.Second, "the orphan to be re-parented to pause", func() bool {
		b, _ := os.ReadFile(children)
		return len(strings.Fields(string(b))) > 0
	})
	waitFor(t, 20*time.Second, "pause to reap the orphan", func() bool {
		b, _ := os.ReadFile(children)
		return len(strings.Fields(string(b))) == 0
	})

	if res, err := runCmd(r.cmd("kill", id, "TERM")); err != nil || res.Exit != 0 {
		t.Fatalf("runc kill: %v %+v", err, res)
	}
	select {
	case err := <-exited:
		waited = true
		if err != nil {
			t.Fatalf("pause ended with %v (stderr %q), want status 0", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("pause ignored SIGTERM")
	}
	if !strings.Contains(stderr.String(), "SIGTERM") {
		t.Errorf("pause stderr %q", stderr.String())
	}
}
