package e2e

// The image service end to end: the real logbookd, the real crictl, the
// offline test registry (bin/testimages serve) as the mirror of docker.io.
// `make build tools` builds the binaries; without them the test skips.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imgRepoRoot is the repository root (this file's parent directory).
func imgRepoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(file))
}

// imgBinaries returns the paths of logbookd, crictl and testimages under
// bin/, skipping the test when one is missing.
func imgBinaries(t *testing.T) (logbookd, crictl, testimages string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the daemon needs root")
	}
	bin := filepath.Join(imgRepoRoot(t), "bin")
	paths := []string{filepath.Join(bin, "logbookd"), filepath.Join(bin, "crictl"), filepath.Join(bin, "testimages")}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is missing (run `make build tools` first): %v", p, err)
		}
	}
	if out, err := exec.Command(paths[2], "list").CombinedOutput(); err != nil {
		t.Skipf("the test image layout is not built (run `bin/testimages build`): %v: %s", err, out)
	}
	return paths[0], paths[1], paths[2]
}

// imgProcess starts a command with its output in a file, and stops it with
// SIGTERM (then SIGKILL) at cleanup.
func imgProcess(t *testing.T, logPath string, name string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		defer logf.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop on SIGTERM within 30s", filepath.Base(name))
		}
	})
	return cmd
}

// imgPoll polls cond until it holds or the deadline passes, reporting the
// last error.
func imgPoll(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// imgDaemon starts the test registry and a logbookd using it as the mirror
// of docker.io, and returns a function running crictl against the daemon.
func imgDaemon(t *testing.T) (crictl func(args ...string) (string, error)) {
	t.Helper()
	logbookd, crictlBin, testimages := imgBinaries(t)
	dir := t.TempDir()

	addrFile := filepath.Join(dir, "registry.addr")
	reg := imgProcess(t, filepath.Join(dir, "registry.log"), testimages, "serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile)
	var addr string
	imgPoll(t, "the test registry", time.Minute, func() error {
		if reg.ProcessState != nil {
			return errors.New("the registry exited")
		}
		b, err := os.ReadFile(addrFile)
		addr = strings.TrimSpace(string(b))
		if err == nil && addr == "" {
			err = errors.New("empty address file")
		}
		return err
	})

	sock := filepath.Join(dir, "state", "logbook.sock")
	mirror := []string{"http://" + addr}
	cfg := map[string]any{
		"root":             filepath.Join(dir, "root"),
		"state":            filepath.Join(dir, "state"),
		"socket":           sock,
		"metrics-address":  "",
		"cni-conf-dir":     filepath.Join(dir, "net.d"),
		"registry-mirrors": map[string][]string{"docker.io": mirror, "registry.k8s.io": mirror, "gcr.io": mirror},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	imgProcess(t, filepath.Join(dir, "logbookd.log"), logbookd, "--config", cfgPath)
	imgPoll(t, "logbookd's socket", time.Minute, func() error {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err
	})
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "logbookd.log")); err == nil {
				t.Logf("logbookd log:\n%s", b)
			}
		}
	})

	return func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		full := append([]string{"--runtime-endpoint", "unix://" + sock, "--image-endpoint", "unix://" + sock, "--timeout", "30s"}, args...)
		cmd := exec.CommandContext(ctx, crictlBin, full...)
		cmd.Dir = dir // crictl reads ../crictl.yaml when /etc/crictl.yaml is missing; keep it away from the repository
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		return string(out), err
	}
}

// TestCrictlImages: crictl pull, images, inspecti, imagefsinfo, rmi, as an
// operator would type them.
func TestCrictlImages(t *testing.T) {
	crictl := imgDaemon(t)
	must := func(args ...string) string {
		t.Helper()
		out, err := crictl(args...)
		if err != nil {
			t.Fatalf("crictl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	out := must("pull", "busybox")
	if !strings.Contains(out, "Image is up to date for sha256:") {
		t.Fatalf("crictl pull busybox: %q", out)
	}
	id := strings.TrimSpace(out[strings.Index(out, "sha256:"):])

	out = must("images")
	if !strings.Contains(out, "docker.io/library/busybox") || !strings.Contains(out, "latest") {
		t.Errorf("crictl images does not list busybox:\n%s", out)
	}
	out = must("images", "-q", "--no-trunc")
	if strings.TrimSpace(out) != id {
		t.Errorf("crictl images -q = %q, want %s", out, id)
	}

	var inspect struct {
		Status struct {
			ID          string   `json:"id"`
			RepoTags    []string `json:"repoTags"`
			RepoDigests []string `json:"repoDigests"`
			Size        string   `json:"size"`
		} `json:"status"`
		// crictl shows each key of the verbose info under "info".
		Info struct {
			ID        string          `json:"id"`
			ImageSpec json.RawMessage `json:"imageSpec"`
		} `json:"info"`
	}
	out = must("inspecti", "busybox")
	if err := json.Unmarshal([]byte(out), &inspect); err != nil {
		t.Fatalf("crictl inspecti: %v\n%s", err, out)
	}
	if inspect.Status.ID != id || len(inspect.Status.RepoTags) != 1 || inspect.Status.RepoTags[0] != "docker.io/library/busybox:latest" ||
		len(inspect.Status.RepoDigests) != 1 || !strings.HasPrefix(inspect.Status.RepoDigests[0], "docker.io/library/busybox@sha256:") {
		t.Errorf("inspecti status = %+v", inspect.Status)
	}
	if inspect.Info.ID != id || !strings.Contains(string(inspect.Info.ImageSpec), `"rootfs"`) {
		t.Errorf("inspecti info lacks the image config:\n%s", out)
	}

	out = must("imagefsinfo")
	if !strings.Contains(out, filepath.Join("root", "image")) || !strings.Contains(out, "usedBytes") {
		t.Errorf("crictl imagefsinfo:\n%s", out)
	}

	out = must("rmi", "busybox")
	if !strings.Contains(out, "Deleted: docker.io/library/busybox:latest") {
		t.Errorf("crictl rmi busybox: %q", out)
	}
	if out := must("images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("images left after rmi: %q", out)
	}
	// An unknown image: crictl reports it, the daemon stays healthy.
	if out, err := crictl("inspecti", "busybox"); err == nil {
		t.Errorf("inspecti of a removed image succeeded: %s", out)
	}
	must("version")
}
