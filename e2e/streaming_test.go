package e2e

// Exec, attach and port-forward end to end: the real logbookd, its
// streaming server, and the real crictl (with a pseudo-terminal as its
// stdin where it wants one), as an operator would type the commands.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// lockedBuffer collects a process's output while the test polls it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// crictlCmd is a crictl command against the daemon, not yet started.
func (e *env) crictlCmd(args ...string) *exec.Cmd {
	full := append([]string{"--runtime-endpoint", "unix://" + e.socket, "--image-endpoint", "unix://" + e.socket, "--timeout", "60s"}, args...)
	cmd := exec.Command(e.b.crictl, full...)
	cmd.Dir = e.dir
	return cmd
}

// background starts cmd and stops it (SIGKILL) at cleanup if it still
// runs; done receives its end.
// attachShell attaches crictl, with stdin, to the shell container id and
// sends it question until its output shows answer; it returns crictl's
// stdin and the end of crictl.
func (e *env) attachShell(t *testing.T, id, what, question, answer string) (stdin io.WriteCloser, done <-chan error) {
	t.Helper()
	cmd := e.crictlCmd("attach", "-i", id)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	cmd.Stdout = out
	done = e.background(cmd)
	poll(t, what, 20*time.Second, func() error {
		io.WriteString(in, question+"\n")
		time.Sleep(100 * time.Millisecond)
		if !strings.Contains(out.String(), answer) {
			return fmt.Errorf("output so far %q", out.String())
		}
		return nil
	})
	return in, done
}

func (e *env) background(cmd *exec.Cmd) (done <-chan error) {
	e.t.Helper()
	if err := e.r.Start(cmd); err != nil {
		e.t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() { ch <- e.r.Wait(cmd) }()
	e.t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
		}
	})
	return ch
}

func waitDone(t *testing.T, what string, done <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not end within %v", what, d)
		return nil
	}
}

// freePort is a TCP port nothing listens on at the moment on the host.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get fetches http://127.0.0.1:port/ until it answers or d passes.
func get(t *testing.T, port int, d time.Duration) string {
	t.Helper()
	var body string
	poll(t, fmt.Sprintf("GET through 127.0.0.1:%d", port), d, func() error {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
		body = string(b)
		return err
	})
	return body
}

// runContainer creates and starts a container in pod and returns its ID.
func (e *env) runContainer(pod string, podCfg *runtimeapi.PodSandboxConfig, cfg *runtimeapi.ContainerConfig) string {
	e.t.Helper()
	ctx := context.Background()
	c, err := e.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.GetContainerId()}); err != nil {
		e.t.Fatal(err)
	}
	return c.GetContainerId()
}

// httpdConfig serves page at / on port from busybox's httpd.
func httpdConfig(name string, port int, page string) *runtimeapi.ContainerConfig {
	return containerConfig(name, "sh", "-c",
		fmt.Sprintf("mkdir -p /tmp/www && echo %s > /tmp/www/index.html && exec httpd -f -p %d -h /tmp/www", page, port))
}

func TestCrictlStreaming(t *testing.T) {
	e := newEnv(t, "lbstrm0", 234)
	e.start()
	ctx := context.Background()
	e.mustCrictl("pull", busybox)
	podCfg := e.podConfig("streaming")
	pr, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		t.Fatal(err)
	}
	pod := pr.GetPodSandboxId()
	app := e.runContainer(pod, podCfg, containerConfig("app", "sleep", "1000"))
	shellCfg := containerConfig("shell", "sh")
	shellCfg.Stdin = true
	shell := e.runContainer(pod, podCfg, shellCfg)
	web := e.runContainer(pod, podCfg, httpdConfig("web", 8080, "hello-from-the-pod"))

	t.Run("exec", func(t *testing.T) {
		if out := e.mustCrictl("exec", app, "echo", "-n", "hello"); out != "hello" {
			t.Errorf("crictl exec echo = %q", out)
		}
		// crictl exits 1 when the command fails, and says why.
		_, err := e.crictl("exec", app, "sh", "-c", "echo failing >&2; exit 3")
		if err == nil || !strings.Contains(err.Error(), "failing") || !strings.Contains(err.Error(), "exit code 3") {
			t.Errorf("crictl exec of a command exiting 3: %v", err)
		}
		_, err = e.crictl("exec", "-s", app, "sh", "-c", "exit 3")
		if err == nil || !strings.Contains(err.Error(), "exited with 3") {
			t.Errorf("crictl exec -s of a command exiting 3: %v", err)
		}
	})
	t.Run("exec -i", func(t *testing.T) {
		cmd := e.crictlCmd("exec", "-i", app, "sh", "-c", "tr a-z A-Z")
		cmd.Stdin = strings.NewReader("piped through\n")
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := e.r.Run(cmd); err != nil || out.String() != "PIPED THROUGH\n" {
			t.Errorf("crictl exec -i = %q, %v", out.String(), err)
		}
	})
	t.Run("exec -it", func(t *testing.T) {
		// crictl wants a terminal on its stdin for -t: a pseudo-terminal
		// of 30x100 that this test then resizes.
		master, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer master.Close()
		if err := pty.Setsize(master, &pty.Winsize{Rows: 30, Cols: 100}); err != nil {
			t.Fatal(err)
		}
		cmd := e.crictlCmd("exec", "-it", app, "sh")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true} // fd 0 becomes its terminal
		done := e.background(cmd)
		tty.Close()
		out := &lockedBuffer{}
		go io.Copy(out, master)
		ask := func(what, line, want string) {
			t.Helper()
			poll(t, what, 20*time.Second, func() error {
				io.WriteString(master, line)
				time.Sleep(100 * time.Millisecond)
				if !strings.Contains(out.String(), want) {
					return fmt.Errorf("no %q in %q", want, out.String())
				}
				return nil
			})
		}
		ask("the shell's answer", "echo $((6*7))x\n", "42x")
		ask("the terminal's size", "stty size\n", "30 100")
		if err := pty.Setsize(master, &pty.Winsize{Rows: 45, Cols: 132}); err != nil {
			t.Fatal(err)
		}
		ask("the resized terminal", "stty size\n", "45 132")
		ask("a terminal in the container", "tty\n", "/dev/pts/")
		io.WriteString(master, "exit 5\n")
		if err := waitDone(t, "crictl exec -it", done, 20*time.Second); err == nil {
			t.Error("crictl exec -it of a shell exiting 5 succeeded")
		}
		poll(t, "crictl's report of the exit code", 5*time.Second, func() error {
			if !strings.Contains(out.String(), "exit code 5") {
				return fmt.Errorf("output %q", out.String())
			}
			return nil
		})
	})
	t.Run("exec -s with a timeout", func(t *testing.T) {
		start := time.Now()
		if _, err := e.crictl("exec", "-s", "--timeout", "1", app, "sleep", "4321"); err == nil {
			t.Error("crictl exec -s past its timeout succeeded")
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("crictl exec -s --timeout 1 took %v", took)
		}
		if out := e.mustCrictl("exec", "-s", app, "ps", "-o", "args"); strings.Contains(out, "4321") {
			t.Errorf("the timed out process still runs:\n%s", out)
		}
	})
	t.Run("attach", func(t *testing.T) {
		in, done := e.attachShell(t, shell, "the attached shell's answer", "echo attached-$((40+2))", "attached-42")
		// The shell exits: the container ends, and the attach with it.
		io.WriteString(in, "exit 0\n")
		if err := waitDone(t, "crictl attach", done, 20*time.Second); err != nil {
			t.Errorf("crictl attach: %v", err)
		}
	})
	t.Run("port-forward", func(t *testing.T) {
		local := freePort(t)
		cmd := e.crictlCmd("port-forward", pod, fmt.Sprintf("%d:8080", local))
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		e.background(cmd)
		if body := get(t, local, 30*time.Second); strings.TrimSpace(body) != "hello-from-the-pod" {
			t.Errorf("GET through crictl port-forward = %q", body)
		}
		// Several connections through one session.
		for range 3 {
			if body := get(t, local, 5*time.Second); strings.TrimSpace(body) != "hello-from-the-pod" {
				t.Errorf("GET again = %q", body)
			}
		}
		if !regexp.MustCompile(fmt.Sprintf(`Forwarding from 127\.0\.0\.1:%d -> 8080`, local)).MatchString(out.String()) {
			t.Errorf("crictl port-forward said %q", out.String())
		}
	})
	t.Run("port-forward in host network", func(t *testing.T) {
		hostCfg := e.podConfig("streaming-host")
		hostCfg.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}
		hp, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: hostCfg})
		if err != nil {
			t.Fatal(err)
		}
		remote := freePort(t)
		e.runContainer(hp.GetPodSandboxId(), hostCfg, httpdConfig("hostweb", remote, "hello-from-the-host-network"))
		local := freePort(t)
		cmd := e.crictlCmd("port-forward", hp.GetPodSandboxId(), fmt.Sprintf("%d:%d", local, remote))
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		e.background(cmd)
		if body := get(t, local, 30*time.Second); strings.TrimSpace(body) != "hello-from-the-host-network" {
			t.Errorf("GET through crictl port-forward = %q", body)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		code := func(err error) codes.Code { s, _ := status.FromError(err); return s.Code() }
		_, err := e.d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: strings.Repeat("ab", 32), Cmd: []string{"true"}})
		if code(err) != codes.NotFound {
			t.Errorf("ExecSync into an unknown container: %v", err)
		}
		_, err = e.d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: app})
		if code(err) != codes.InvalidArgument {
			t.Errorf("ExecSync without a command: %v", err)
		}
		// The shell exited in the attach test.
		_, err = e.d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: shell, Cmd: []string{"true"}})
		if code(err) != codes.FailedPrecondition {
			t.Errorf("ExecSync into an exited container: %v", err)
		}
		_, err = e.d.rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: shell, Cmd: []string{"true"}, Stdout: true})
		if code(err) != codes.FailedPrecondition {
			t.Errorf("Exec into an exited container: %v", err)
		}
		resp, err := e.d.rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: web, Cmd: []string{"true"}, Stdout: true})
		if err != nil || !strings.HasPrefix(resp.GetUrl(), "http://127.0.0.1:") {
			t.Errorf("Exec URL %q, %v; want an absolute loopback URL", resp.GetUrl(), err)
		}
	})
}

// TestAttachAcrossDaemonRestart: a container started before logbookd was
// killed is attached by the new daemon through the container's shim.
func TestAttachAcrossDaemonRestart(t *testing.T) {
	e := newEnv(t, "lbstrm1", 235)
	e.start()
	ctx := context.Background()
	e.mustCrictl("pull", busybox)
	podCfg := e.podConfig("restart")
	podCfg.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}
	pr, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		t.Fatal(err)
	}
	cfg := containerConfig("shell", "sh")
	cfg.Stdin, cfg.StdinOnce = true, true
	shell := e.runContainer(pr.GetPodSandboxId(), podCfg, cfg)

	e.kill()
	e.start()

	in, done := e.attachShell(t, shell, "the attached shell's answer after the restart", "echo still-$((6*7))", "still-42")
	// stdin_once: closing crictl's stdin closes the container's, and the
	// shell ends.
	in.Close()
	if err := waitDone(t, "crictl attach", done, 20*time.Second); err != nil {
		t.Errorf("crictl attach: %v", err)
	}
	poll(t, "the container's exit", 20*time.Second, func() error {
		s, err := e.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: shell})
		if err == nil && s.GetStatus().GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			err = fmt.Errorf("state %s", s.GetStatus().GetState())
		}
		return err
	})
}
