package runc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/runtime/shim"
)

func TestEchoIsLoggedAndExitRecorded(t *testing.T) {
	e := newEnv(t)
	before := time.Now()
	c := e.create(ctr{args: []string{"echo", "hello world"}})
	if c.shim.InitPid() <= 0 || c.shim.Pid() <= 0 {
		t.Fatalf("pids: shim %d init %d", c.shim.Pid(), c.shim.InitPid())
	}
	e.start(c)
	ex := e.wait(c)
	after := time.Now()
	if ex.Status != 0 || ex.Signal != 0 || ex.Pid != c.shim.InitPid() {
		t.Fatalf("exit %+v, want status 0 of pid %d", ex, c.shim.InitPid())
	}
	if ex.At.Before(before) || ex.At.After(time.Now()) {
		t.Errorf("exit time %v not within the test", ex.At)
	}
	recorded, err := ReadExit(c.StateDir)
	if err != nil || !recorded.At.Equal(ex.At) || recorded.Status != ex.Status {
		t.Errorf("ReadExit = %+v, %v; Wait said %+v", recorded, err, ex)
	}
	entries := readLog(t, c.LogPath)
	if len(entries) != 1 {
		t.Fatalf("log has %d entries, want 1: %+v", len(entries), entries)
	}
	got := entries[0]
	if got.Stream != shim.Stdout || got.Partial || string(got.Message) != "hello world" {
		t.Errorf("log entry %+v %q", got, got.Message)
	}
	// Stamped when the shim read it, which may be just after it reaped
	// the process.
	if got.Time.Before(before) || got.Time.After(after) {
		t.Errorf("log time %v not within the test (%v, %v)", got.Time, before, after)
	}
	// The shim leaves nothing running and no socket behind.
	if _, err := os.Stat(filepath.Join(c.StateDir, shim.SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after exit: %v", err)
	}
	st, err := e.r.State(context.Background(), c.ID)
	if err != nil || st.Status != "stopped" {
		t.Errorf("runc state = %+v, %v; want stopped", st, err)
	}
}

func TestExitStatuses(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		kill        syscall.Signal
		status, sig int
	}{
		{"failing command", []string{"sh", "-c", "exit 3"}, 0, 3, 0},
		{"killed", []string{"sleep", "1000"}, unix.SIGKILL, 137, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(ctr{args: tc.args})
			e.start(c)
			if tc.kill != 0 {
				if err := e.r.Kill(context.Background(), c.ID, tc.kill, false); err != nil {
					t.Fatal(err)
				}
			}
			ex := e.wait(c)
			if ex.Status != tc.status || ex.Signal != tc.sig {
				t.Fatalf("exit %+v, want status %d signal %d", ex, tc.status, tc.sig)
			}
		})
	}
}

func TestStdoutAndStderrInterleaved(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2; printf tail"}})
	e.start(c)
	if ex := e.wait(c); ex.Status != 0 {
		t.Fatalf("exit %+v", ex)
	}
	entries := readLog(t, c.LogPath)
	if got, want := messages(entries, shim.Stdout), []string{"out1", "out2", "tail"}; !equal(got, want) {
		t.Errorf("stdout lines %q, want %q", got, want)
	}
	if got, want := messages(entries, shim.Stderr), []string{"err1", "err2"}; !equal(got, want) {
		t.Errorf("stderr lines %q, want %q", got, want)
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].Time.Before(entries[i-1].Time) {
			t.Errorf("entry %d at %v is before entry %d at %v", i, entries[i].Time, i-1, entries[i-1].Time)
		}
	}
}

func TestLongLineIsSplitIntoPartialEntries(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; echo short"}})
	e.start(c)
	if ex := e.wait(c); ex.Status != 0 {
		t.Fatalf("exit %+v", ex)
	}
	entries := readLog(t, c.LogPath)
	var shape []string
	for _, en := range entries {
		tag := "F"
		if en.Partial {
			tag = "P"
		}
		shape = append(shape, fmt.Sprintf("%s%d", tag, len(en.Message)))
	}
	if want := []string{"P16384", "P16384", "F7232", "F5"}; !equal(shape, want) {
		t.Fatalf("entries %v, want %v", shape, want)
	}
	if got := messages(entries, shim.Stdout); got[0] != strings.Repeat("a", 40000) || got[1] != "short" {
		t.Errorf("joined lines wrong: %d bytes, then %q", len(got[0]), got[1])
	}
}

func TestReopenLogAfterRename(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sh", "-c", "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.02; done"}})
	e.start(c)
	eventually(t, 10*time.Second, "first log lines", func() bool {
		b, _ := os.ReadFile(c.LogPath)
		return bytes.Count(b, []byte{'\n'}) >= 2
	})
	rotated := c.LogPath + ".1"
	if err := os.Rename(c.LogPath, rotated); err != nil {
		t.Fatal(err)
	}
	if err := c.shim.ReopenLog(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.LogPath); err != nil {
		t.Fatalf("no file at the log path right after ReopenLog: %v", err)
	}
	fi, err := os.Stat(rotated)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "lines in the new log", func() bool {
		b, _ := os.ReadFile(c.LogPath)
		return bytes.Count(b, []byte{'\n'}) >= 3
	})
	if fi2, _ := os.Stat(rotated); fi2.Size() != fi.Size() {
		t.Errorf("rotated log grew from %d to %d bytes after the reopen", fi.Size(), fi2.Size())
	}
	// Not a line lost or repeated across the two files.
	all := append(messages(readLog(t, rotated), shim.Stdout), messages(readLog(t, c.LogPath), shim.Stdout)...)
	for i, m := range all {
		if m != "line"+strconv.Itoa(i) {
			t.Fatalf("line %d is %q; lines %q", i, m, all)
		}
	}
	if mode := mustStat(t, c.LogPath).Mode().Perm(); mode != 0o640 {
		t.Errorf("log mode %v, want 0640", mode)
	}
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestAttachFansOutAndStdinOnceClosesStdin(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"cat"}, stdin: true, stdinOnce: true})
	e.start(c)

	inR, inW := io.Pipe()
	out1, out2, errOut := newSyncBuffer(), newSyncBuffer(), newSyncBuffer()
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() {
		done1 <- c.shim.Attach(context.Background(), AttachOptions{Stdin: inR, Stdout: out1, Stderr: errOut})
	}()
	go func() { done2 <- c.shim.Attach(context.Background(), AttachOptions{Stdout: out2}) }()
	eventually(t, 5*time.Second, "two attached clients", func() bool {
		st, err := c.shim.Status(context.Background())
		return err == nil && st.Clients == 2
	})

	io.WriteString(inW, "hello\n")
	eventually(t, 5*time.Second, "echo to both clients", func() bool {
		return out1.String() == "hello\n" && out2.String() == "hello\n"
	})
	st, err := c.shim.Status(context.Background())
	if err != nil || !st.StdinOpen || st.Exited || st.InitPid != c.shim.InitPid() || st.ShimPid != c.shim.Pid() {
		t.Fatalf("status %+v, %v", st, err)
	}
	// The end of the first client's stdin closes the container's: cat
	// sees EOF and exits, which ends both attaches.
	inW.Close()
	for i, done := range []chan error{done1, done2} {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("attach %d: %v", i+1, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("attach %d did not end with the container", i+1)
		}
	}
	if ex := e.wait(c); ex.Status != 0 {
		t.Errorf("exit %+v", ex)
	}
	if errOut.String() != "" {
		t.Errorf("stderr %q", errOut.String())
	}
	if got := messages(readLog(t, c.LogPath), shim.Stdout); !equal(got, []string{"hello"}) {
		t.Errorf("log %q", got)
	}
}

func TestStdinStaysOpenWithoutStdinOnce(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"cat"}, stdin: true})
	e.start(c)
	for _, word := range []string{"one", "two"} {
		out := newSyncBuffer()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.shim.Attach(ctx, AttachOptions{Stdin: strings.NewReader(word + "\n"), Stdout: out}) }()
		eventually(t, 5*time.Second, "echo of "+word, func() bool { return out.String() == word+"\n" })
		// This attach's stdin has ended; the container's has not.
		st, err := c.shim.Status(context.Background())
		if err != nil || !st.StdinOpen {
			t.Fatalf("status after %s: %+v, %v", word, st, err)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("attach ended with %v, want context.Canceled", err)
		}
	}
	if err := e.r.Kill(context.Background(), c.ID, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if ex := e.wait(c); ex.Status != 137 {
		t.Fatalf("exit %+v", ex)
	}
	// The shim is gone, and says so to a late client.
	if err := c.shim.Attach(context.Background(), AttachOptions{Stdout: io.Discard}); err == nil {
		t.Fatal("attach to an exited container succeeded")
	}
	if got := messages(readLog(t, c.LogPath), shim.Stdout); !equal(got, []string{"one", "two"}) {
		t.Errorf("log %q", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTerminal(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sh"}, stdin: true, stdinOnce: true, tty: true})
	e.start(c)
	inR, inW := io.Pipe()
	defer inW.Close()
	out := newSyncBuffer()
	resize := make(chan shim.TermSize, 1)
	done := make(chan error, 1)
	go func() {
		done <- c.shim.Attach(context.Background(), AttachOptions{Stdin: inR, Stdout: out, Resize: resize})
	}()
	resize <- shim.TermSize{Width: 123, Height: 45}
	// The resize and the input travel separately; ask until the shell
	// sees the new size.
	eventually(t, 10*time.Second, "the resized terminal", func() bool {
		io.WriteString(inW, "stty size\n")
		return strings.Contains(out.String(), "45 123")
	})
	io.WriteString(inW, "echo to-stderr >&2; exit 7\n")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attach did not end with the shell")
	}
	if ex := e.wait(c); ex.Status != 7 {
		t.Fatalf("exit %+v", ex)
	}
	entries := readLog(t, c.LogPath)
	if len(entries) == 0 {
		t.Fatal("empty log")
	}
	var sawStderrText bool
	for _, en := range entries {
		if en.Stream != shim.Stdout {
			t.Errorf("terminal output logged as %v: %q", en.Stream, en.Message)
		}
		if !en.Partial && bytes.HasSuffix(en.Message, []byte{'\r'}) {
			t.Errorf("line end \\r kept: %q", en.Message)
		}
		if string(en.Message) == "to-stderr" {
			sawStderrText = true
		}
	}
	if !sawStderrText {
		t.Errorf("stderr text missing from the terminal log: %+v", messages(entries, shim.Stdout))
	}
}

// TestShimOutlivesItsLauncher plays logbookd's death: a child process (this
// test binary again) creates a container and is SIGKILLed; the container
// runs on, and a fresh handle on its shim serves it and sees its exit.
func TestShimOutlivesItsLauncher(t *testing.T) {
	e := newEnv(t)
	o := e.options(ctr{args: []string{"cat"}, stdin: true, stdinOnce: true})
	t.Cleanup(func() { e.destroy(o.ID, nil) })
	spec, _ := json.Marshal(o)
	launcher := exec.Command(os.Args[0], "-test.run=^$")
	launcher.Env = append(os.Environ(), launcherEnv+"="+string(spec),
		"LOGBOOK_TEST_RUNC_ROOT="+e.root, "LOGBOOK_TEST_SHIM="+shimBinary)
	launcherIn, err := launcher.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer launcherIn.Close()
	outPipe, err := launcher.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := launcher.Start(); err != nil {
		t.Fatal(err)
	}
	var word string
	var shimPid, initPid int
	if _, err := fmt.Fscan(outPipe, &word, &shimPid, &initPid); err != nil || word != "ready" {
		launcher.Process.Kill()
		launcher.Wait()
		t.Fatalf("launcher said %q %d %d (%v)", word, shimPid, initPid, err)
	}
	launcher.Process.Kill()
	launcher.Wait()
	// The shim is an orphan now, adopted by this (sub-reaper) process.
	eventually(t, 5*time.Second, "the shim re-parented", func() bool {
		return ppid(shimPid) == os.Getpid()
	})

	s, err := OpenShim(o.ID, o.StateDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Pid() != shimPid || s.InitPid() != initPid {
		t.Fatalf("reopened shim pid %d init %d, launcher said %d %d", s.Pid(), s.InitPid(), shimPid, initPid)
	}
	if err := e.r.Start(context.Background(), o.ID); err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	out := newSyncBuffer()
	done := make(chan error, 1)
	go func() { done <- s.Attach(context.Background(), AttachOptions{Stdin: inR, Stdout: out}) }()
	io.WriteString(inW, "still here\n")
	eventually(t, 5*time.Second, "echo through the orphaned shim", func() bool { return out.String() == "still here\n" })
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ex, err := s.Wait(ctx)
	if err != nil || ex.Status != 0 || ex.Pid != initPid {
		t.Fatalf("wait = %+v, %v", ex, err)
	}
	if got := messages(readLog(t, o.LogPath), shim.Stdout); !equal(got, []string{"still here"}) {
		t.Errorf("log %q", got)
	}
}

func ppid(pid int) int {
	p, ok := readProcStat(pid)
	if !ok {
		return -1
	}
	return p.ppid
}

// TestWaitThroughAFreshHandle: after a "restart" (the handle closed, a new
// one opened from the state directory) Wait still sees the exit, and once
// the shim is gone its exit stays readable.
func TestWaitThroughAFreshHandle(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sleep", "1000"}})
	e.start(c)
	c.shim.Close()
	s, err := OpenShim(c.ID, c.StateDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.shim = s // closed by the cleanup
	st, err := s.Status(context.Background())
	if err != nil || st.InitPid != c.shim.InitPid() || st.Exited {
		t.Fatalf("status %+v, %v", st, err)
	}
	// A Wait that gives up leaves the handle usable.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = s.Wait(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on a running container: %v", err)
	}
	if err := e.r.Kill(context.Background(), c.ID, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	ex := e.wait(c)
	if ex.Status != 137 || ex.Signal != 9 {
		t.Fatalf("exit %+v", ex)
	}
	if _, err := OpenShim(c.ID, c.StateDir, nil); !errors.Is(err, ErrShimGone) {
		t.Errorf("OpenShim of an exited shim: %v, want ErrShimGone", err)
	}
	if again, err := ReadExit(c.StateDir); err != nil || again != ex {
		t.Errorf("ReadExit = %+v, %v; want %+v", again, err, ex)
	}
}

func TestKilledShimIsReportedAsDied(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sleep", "1000"}})
	e.start(c)
	c.shim.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.shim.Wait(ctx); !errors.Is(err, ErrShimDied) {
		t.Fatalf("wait after the shim was killed: %v, want ErrShimDied", err)
	}
	if _, err := ReadExit(c.StateDir); !errors.Is(err, shim.ErrNoExit) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadExit: %v, want ErrNoExit", err)
	}
	// The container outlives even its shim; runc still knows it.
	st, err := e.r.State(context.Background(), c.ID)
	if err != nil || st.Status != "running" {
		t.Errorf("runc state %+v, %v", st, err)
	}
}

func TestLongStateDirectory(t *testing.T) {
	e := newEnv(t)
	long := filepath.Join(e.dir, strings.Repeat("d", 60), strings.Repeat("e", 60))
	c := e.create(ctr{args: []string{"sh"}, stdin: true, stdinOnce: true, tty: true, stateDir: long})
	if len(filepath.Join(long, shim.SocketName)) <= 108 {
		t.Fatalf("state dir %q is not long enough for the test", long)
	}
	e.start(c)
	st, err := c.shim.Status(context.Background())
	if err != nil || st.InitPid != c.shim.InitPid() {
		t.Fatalf("status through a long path: %+v, %v", st, err)
	}
	if err := c.shim.Attach(context.Background(), AttachOptions{Stdin: strings.NewReader("exit 4\n"), Stdout: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if ex := e.wait(c); ex.Status != 4 {
		t.Fatalf("exit %+v", ex)
	}
}

func TestCreateFailureReportsRuncError(t *testing.T) {
	e := newEnv(t)
	o := e.options(ctr{args: []string{"/bin/no-such-binary"}})
	t.Cleanup(func() { e.destroy(o.ID, nil) })
	_, err := e.r.Create(context.Background(), o)
	if !errors.Is(err, ErrRuncFailed) || !strings.Contains(err.Error(), "no-such-binary") {
		t.Fatalf("create: %v, want ErrRuncFailed naming the binary", err)
	}
	var re *RuncError
	if !errors.As(err, &re) || re.Command != "create" || re.ID != o.ID || !strings.HasPrefix(re.Message, "runc create failed: ") {
		t.Errorf("error %#v", err)
	}
	if _, err := os.Stat(filepath.Join(o.StateDir, shim.PidFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left after a failed create: %v", err)
	}
	if sts, err := e.r.List(context.Background()); err != nil || len(sts) != 0 {
		t.Errorf("runc keeps %+v after a failed create (%v)", sts, err)
	}
	// The state directory can be used again.
	if err := os.WriteFile(filepath.Join(o.Bundle, "config.json"), mustJSON(t, testSpec(o.ID, []string{"true"}, false)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := e.r.Create(context.Background(), o)
	if err != nil {
		t.Fatalf("create after a failure: %v", err)
	}
	t.Cleanup(func() { e.destroy(o.ID, s) })
	if _, err := e.r.Create(context.Background(), o); !errors.Is(err, ErrStateDirInUse) {
		t.Errorf("second create in one state dir: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOrphansAreReaped: without a pid namespace, a process orphaned in the
// container is re-parented to the shim (a sub-reaper), which reaps it.
func TestOrphansAreReaped(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sh", "-c", "(sleep 0.3 &); exec sleep 1000"}, hostPID: true})
	e.start(c)
	others := func() []string {
		var out []string
		for _, p := range childrenOf(c.shim.Pid()) {
			if p.pid != c.shim.InitPid() {
				out = append(out, fmt.Sprintf("%d %s %s", p.pid, p.state, p.comm))
			}
		}
		return out
	}
	eventually(t, 5*time.Second, "an orphan adopted by the shim", func() bool { return len(others()) > 0 })
	eventually(t, 5*time.Second, "the orphan reaped", func() bool { return len(others()) == 0 })
}

// TestDrainIsBounded: a process that outlives init and holds its stdout
// does not keep the exit from being recorded.
func TestDrainIsBounded(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sh", "-c", "(sleep 30 &); echo bye"}, hostPID: true})
	e.start(c)
	if ex := e.wait(c); ex.Status != 0 {
		t.Fatalf("exit %+v", ex)
	}
	if got := messages(readLog(t, c.LogPath), shim.Stdout); !equal(got, []string{"bye"}) {
		t.Errorf("log %q", got)
	}
}

type procInfo struct {
	pid, ppid   int
	state, comm string
}

// readProcStat reads a process's /proc/<pid>/stat; the command name is in
// parentheses and may contain anything.
func readProcStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procInfo{}, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[end+1:]))
	if open < 0 || len(f) < 2 {
		return procInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return procInfo{pid: pid, ppid: ppid, state: f[0], comm: string(b[open+1 : end])}, true
}

func childrenOf(ppid int) []procInfo {
	dirs, _ := os.ReadDir("/proc")
	var out []procInfo
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if p, ok := readProcStat(pid); ok && p.ppid == ppid {
			out = append(out, p)
		}
	}
	return out
}

// TestCancelledCreateLeavesNothing: a Create given up while runc create is
// still busy (here in a hook) kills the shim and runc with it. runc had
// made the container's cgroup but not yet recorded the container, so the
// cgroup is left, empty, for the caller (who chose its path) to remove.
func TestCancelledCreateLeavesNothing(t *testing.T) {
	e := newEnv(t)
	o := e.options(ctr{args: []string{"true"}})
	t.Cleanup(func() { e.destroy(o.ID, nil) })
	marker := "29." + strconv.Itoa(os.Getpid())
	spec := testSpec(o.ID, []string{"true"}, false)
	spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", marker}}}}
	if err := os.WriteFile(filepath.Join(o.Bundle, "config.json"), mustJSON(t, spec), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once runc create is inside the hook.
		for len(processesWith(marker)) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := e.r.Create(ctx, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("create: %v, want context.Canceled", err)
	}
	eventually(t, 5*time.Second, "the hook killed", func() bool { return len(processesWith(marker)) == 0 })
	if sts, err := e.r.List(context.Background()); err != nil || len(sts) != 0 {
		t.Errorf("runc keeps %+v (%v)", sts, err)
	}
	if _, err := os.Stat(filepath.Join(o.StateDir, shim.PidFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left: %v", err)
	}
	// runc's init dies of its parent's death, asynchronously; as an orphan
	// it is this sub-reaper's to reap, and a zombie stays in its cgroup.
	pids := filepath.Join("/sys/fs/cgroup/pids", cgroupParent, o.ID, "cgroup.procs")
	eventually(t, 5*time.Second, "no live process in the container's cgroup", func() bool {
		b, _ := os.ReadFile(pids)
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			if p, ok := readProcStat(pid); ok && p.state != "Z" {
				return false
			}
		}
		return true
	})
	reapAll()
	ctrls, _ := os.ReadDir("/sys/fs/cgroup")
	for _, ctrl := range ctrls {
		dir := filepath.Join("/sys/fs/cgroup", ctrl.Name(), cgroupParent, o.ID)
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove the left cgroup: %v", err)
		}
	}
}

// processesWith lists the live processes whose command line contains s.
func processesWith(s string) []int {
	dirs, _ := os.ReadDir("/proc")
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if bytes.Contains(b, []byte(s)) {
			out = append(out, pid)
		}
	}
	return out
}
