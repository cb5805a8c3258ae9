package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// buildDaemon builds the real logbookd binary, with a version linked in the
// way the Makefile does.
func buildDaemon(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skipf("no runc on this machine: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "logbookd")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-ldflags", "-X main.version=e2e-test", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDaemonBinary starts the real binary with its own root, state and
// socket, talks CRI to it, scrapes its metrics, stops it with SIGTERM and
// checks it exits 0 and takes its socket with it.
func TestDaemonBinary(t *testing.T) {
	bin := buildDaemon(t)
	dir := t.TempDir()
	socket := filepath.Join(dir, "run", "cri.sock")
	cmd := exec.Command(bin,
		"--root", filepath.Join(dir, "root"),
		"--state", filepath.Join(dir, "state"),
		"--socket", socket,
		"--metrics-address", "127.0.0.1:0",
		"--log-level", "debug",
		"--config", filepath.Join(dir, "absent-is-fine-only-by-default.json"),
	)
	// The explicitly named config file is missing: the daemon must refuse.
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); exitCode(err) != 1 || !strings.Contains(stderr.String(), "absent-is-fine-only-by-default.json") {
		t.Fatalf("missing explicit config: exit %v, stderr %s", err, stderr.String())
	}

	cfgFile := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfgFile, []byte(`{"systemd-cgroup": true, "log-level": "error"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The file's systemd-cgroup is honoured where systemd runs; elsewhere
	// the daemon refuses it at start, naming the key, and the test goes on
	// with cgroupfs.
	wantDriver := runtimeapi.CgroupDriver_SYSTEMD
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		wantDriver = runtimeapi.CgroupDriver_CGROUPFS
		stderr = lockedBuffer{}
		refused := exec.Command(bin, "--config", cfgFile, "--root", filepath.Join(dir, "root"),
			"--state", filepath.Join(dir, "state"), "--socket", socket, "--metrics-address", "")
		refused.Stderr = &stderr
		if err := refused.Run(); exitCode(err) != 1 || !strings.Contains(stderr.String(), "systemd-cgroup") {
			t.Fatalf("systemd-cgroup without systemd: exit %v, stderr %s", err, stderr.String())
		}
		if err := os.WriteFile(cfgFile, []byte(`{"log-level": "error"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stderr = lockedBuffer{}
	cmd = exec.Command(bin,
		"--config", cfgFile,
		"--root", filepath.Join(dir, "root"),
		"--state", filepath.Join(dir, "state"),
		"--socket", socket,
		"--metrics-address", "127.0.0.1:0",
		"--log-level", "debug", // the flag overrides the file
	)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})

	// Wait for the socket to answer (or the daemon to die).
	deadline := time.Now().Add(30 * time.Second)
	for {
		if conn, err := net.Dial("unix", socket); err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("logbookd exited early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket %s never answered\n%s", socket, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := client.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if v.GetRuntimeName() != "logbook" || v.GetRuntimeVersion() != "e2e-test" || v.GetRuntimeApiVersion() != "v1" {
		t.Errorf("Version = %v", v)
	}
	rc, err := client.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.GetLinux().GetCgroupDriver() != wantDriver {
		t.Errorf("cgroup driver %v, want %v from the config file", rc.GetLinux().GetCgroupDriver(), wantDriver)
	}
	st, err := client.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range st.GetStatus().GetConditions() {
		if c.GetType() == runtimeapi.RuntimeReady && !c.GetStatus() {
			t.Errorf("RuntimeReady false: %s", c.GetMessage())
		}
	}

	// Metrics: the address is in the log; the calls above are counted.
	m := regexp.MustCompile(`msg="metrics endpoint" address=(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", stderr.String())
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `logbook_cri_requests_total{code="OK",method="runtime.v1.RuntimeService/Version"} 1`) {
		t.Errorf("the Version call is not counted:\n%s", body)
	}
	// The debug level came from the flag, over the file's "error".
	if !strings.Contains(stderr.String(), "level=DEBUG") {
		t.Errorf("no debug lines: the flag did not override the file\n%s", stderr.String())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("logbookd exited with %v after SIGTERM\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("logbookd did not exit after SIGTERM\n%s", stderr.String())
	}
	if _, err := os.Lstat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
}

// TestCommandLine: exit codes of the command line itself.
func TestCommandLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--version"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "logbookd ") {
		t.Errorf("--version: exit %d, stdout %q", code, stdout.String())
	}
	if code := run([]string{"--no-such-flag"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code := run([]string{"stray"}, &stdout, &stderr); code != 2 {
		t.Errorf("stray argument: exit %d, want 2", code)
	}
	stderr.Reset()
	dir := t.TempDir()
	code := run([]string{"--root", "relative/root", "--state", dir, "--config", filepath.Join(dir, "none.json")}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "none.json") {
		t.Errorf("missing explicit config: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	cfg := filepath.Join(dir, "daemon.json")
	os.WriteFile(cfg, []byte(`{"enable-cri-v1": false}`), 0o644)
	code = run([]string{"--config", cfg, "--state", dir, "--root", dir}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), `"enable-cri-v1"`) {
		t.Errorf("CRI v1 disabled: exit %d, stderr %q", code, stderr.String())
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}
