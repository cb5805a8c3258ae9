package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a child process writes while a test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPauseBinary checks cmd/logbook-pause outside a container: the version
// flag, and an exit status of 0 on SIGINT and SIGTERM. Its life as PID 1
// (reaping orphans) is checked by TestBuild/Containers/Pause.
func TestPauseBinary(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	repo, err := findRepo("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := buildPause(context.Background(), repo, dir); err != nil {
		t.Fatal(err)
	}
	bin := dir + "/logbook-pause"

	out, err := exec.Command(bin, "-v").Output()
	if err != nil || !strings.HasPrefix(string(out), "logbook-pause ") || !strings.HasSuffix(string(out), "\n") {
		t.Fatalf("-v printed %q (%v)", out, err)
	}
	interp, needed, err := readELFDepsFile(bin)
	if err != nil || interp != "" || len(needed) != 0 {
		t.Fatalf("not static: interp %q needed %v err %v", interp, needed, err)
	}

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(bin)
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The warning comes after the handlers are installed.
		waitFor(t, 10*time.Second, "pause to install its handlers", func() bool {
			return strings.Contains(stderr.String(), "not PID 1")
		})
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%v: pause ended with %v, want status 0", sig, err)
		}
		if want := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]; !strings.Contains(stderr.String(), want) {
			t.Errorf("%v: stderr %q", sig, stderr.String())
		}
	}
}
