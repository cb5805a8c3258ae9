package runc

import (
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
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/runtime/shim"
)

// execWaitDelay bounds how long an exec's output may keep flowing after
// runc has exited (a background process holding the pipes).
const execWaitDelay = 2 * time.Second

// ExecOptions are the stdio of a process run by Exec. A nil stream is
// /dev/null.
type ExecOptions struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Exec runs process p in container id and returns its exit code when it
// ends (128+n if signal n ended it). runc stays its parent and waits for it,
// so Exec returns exactly when the process exits. Cancelling ctx kills the
// process (SIGKILL) and returns its exit code with ctx's error. A process
// runc could not start is a *RuncError (ErrNotFound for an unknown
// container) with exit code -1.
func (r *Runc) Exec(ctx context.Context, id string, p specs.Process, o ExecOptions) (int, error) {
	if p.Terminal {
		return -1, fmt.Errorf("%w: Exec of a terminal process; use ExecTTY", ErrInvalid)
	}
	return r.exec(ctx, id, p, func(cmd *exec.Cmd) (func(int), func()) {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
		return func(int) {}, func() {}
	})
}

// ExecTTYOptions are the streams of a process run on a terminal.
type ExecTTYOptions struct {
	Stdin  io.Reader
	Stdout io.Writer
	Resize <-chan shim.TermSize
}

// ExecTTY is Exec for a process with a terminal (p.Terminal is set for it).
// runc 1.1 honours --console-socket only for detached processes, and a
// detached process is no longer runc's child, so its exit status would be
// lost. Instead runc is given the slave of a pseudo-terminal as its stdio;
// it creates the container's terminal and copies between the two, and
// SIGWINCH makes it apply this terminal's size to the container's. The
// caller's streams are copied to and from the master.
func (r *Runc) ExecTTY(ctx context.Context, id string, p specs.Process, o ExecTTYOptions) (int, error) {
	p.Terminal = true
	master, slave, err := openPty()
	if err != nil {
		return -1, fmt.Errorf("exec %s: %w", id, err)
	}
	// Closed by the cleanup below once runc has run; these are for the
	// paths where it never does.
	defer master.Close()
	defer slave.Close()
	if p.ConsoleSize != nil {
		// runc sizes the container's terminal from this one when it starts.
		setPtySize(master, uint16(p.ConsoleSize.Height), uint16(p.ConsoleSize.Width))
	}
	return r.exec(ctx, id, p, func(cmd *exec.Cmd) (func(int), func()) {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		runcPid := make(chan int, 1)
		var wg sync.WaitGroup
		done := make(chan struct{})
		if o.Stdout != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Ends with EIO once runc has exited and the slave is
				// closed on this side too.
				io.Copy(o.Stdout, master)
			}()
		}
		if o.Stdin != nil {
			// Not waited for: see Shim.Attach. The end of the input is
			// the terminal's end-of-file character, as in the shim.
			go func() {
				if _, err := io.Copy(master, o.Stdin); err == nil {
					master.Write([]byte{4})
				}
			}()
		}
		if o.Resize != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pid := 0
				for {
					select {
					case pid = <-runcPid:
					case ts, ok := <-o.Resize:
						if !ok {
							return
						}
						// Before runc runs the size is simply there for
						// it to read; afterwards it is told to look.
						setPtySize(master, ts.Height, ts.Width)
						if pid > 0 {
							unix.Kill(pid, unix.SIGWINCH)
						}
					case <-done:
						return
					}
				}
			}()
		}
		// After runc has exited: close our slave so the master reads EOF,
		// then wait for the copies.
		return func(pid int) { runcPid <- pid }, func() {
			close(done)
			slave.Close()
			waitOrClose(&wg, master, execWaitDelay)
			master.Close()
		}
	})
}

// waitOrClose waits for wg, closing f if that takes longer than d (which
// unblocks a copy reading f).
func waitOrClose(wg *sync.WaitGroup, f *os.File, d time.Duration) {
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(d):
		f.Close()
		<-finished
	}
}

// exec runs runc exec; setup wires cmd's stdio and returns what to do once
// runc has started (with its pid) and once it has exited.
func (r *Runc) exec(ctx context.Context, id string, p specs.Process, setup func(*exec.Cmd) (started func(pid int), finished func())) (int, error) {
	if id == "" {
		return -1, fmt.Errorf("%w: no container id", ErrInvalid)
	}
	tmp, err := os.MkdirTemp(r.tempDir, "logbook-exec-")
	if err != nil {
		return -1, err
	}
	defer os.RemoveAll(tmp)
	process, err := memfdJSON("process.json", p)
	if err != nil {
		return -1, err
	}
	defer process.Close()

	pidFile := filepath.Join(tmp, "pid")
	logPath := filepath.Join(tmp, "log")
	args := append(r.globalArgs(logPath), "exec", "--process", "/proc/self/fd/3", "--pid-file", pidFile)
	if p.Terminal {
		args = append(args, "--tty")
	}
	args = append(args, id)
	cmd := exec.CommandContext(ctx, r.binary, args...)
	// runc's init closes every descriptor above stdio before the process
	// starts, so the process never sees this one.
	cmd.ExtraFiles = []*os.File{process}
	cmd.Cancel = func() error {
		killExecProcess(cmd.Process.Pid, pidFile)
		return nil
	}
	cmd.WaitDelay = execWaitDelay
	started, finished := setup(cmd)
	runErr := cmd.Start()
	if runErr == nil {
		started(cmd.Process.Pid)
		runErr = cmd.Wait()
	}
	finished()

	logged, _ := os.ReadFile(logPath)
	if msg := shim.LastRuncError(logged); msg != "" {
		return -1, &RuncError{Command: "exec", ID: id, Message: msg}
	}
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		return code, fmt.Errorf("exec %s: %w", id, ctx.Err())
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) && !errors.Is(runErr, exec.ErrWaitDelay) {
		return -1, fmt.Errorf("exec %s: %w", id, runErr)
	}
	if code < 0 {
		return -1, fmt.Errorf("exec %s: runc: %w", id, runErr)
	}
	return code, nil
}

// killExecProcess kills the process runc exec runs and everything it
// started: by the pid runc wrote, and, for a process started but not yet
// written down, among runc's children (the exec'd process is one). Killing
// runc itself would orphan the process.
func killExecProcess(runcPid int, pidFile string) {
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			killTree(pid)
		}
	}
	for _, pid := range childPids(runcPid) {
		killTree(pid)
	}
}

// killTree SIGKILLs root and its descendants. Killing root alone would
// leave its children running, re-parented to the container's init. The
// tree is stopped first (SIGSTOP, walking from root until a walk finds
// every process found so far stopped and no new one), so that none forks
// a child the walk misses or leaves the tree before it is found; then each
// is killed. The walk is bounded: a process stuck in the kernel is killed
// anyway.
func killTree(root int) {
	seen := map[int]bool{}
	for range 100 {
		settled := true
		var walk func(pid int)
		walk = func(pid int) {
			if !seen[pid] {
				seen[pid] = true
				settled = false
				unix.Kill(pid, unix.SIGSTOP)
			} else if !stoppedOrGone(pid) {
				settled = false
			}
			for _, c := range childPids(pid) {
				walk(c)
			}
		}
		walk(root)
		if settled {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for pid := range seen {
		unix.Kill(pid, unix.SIGKILL)
	}
}

// childPids lists pid's children (every thread's).
func childPids(pid int) []int {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil && c > 0 {
				out = append(out, c)
			}
		}
	}
	return out
}

// stoppedOrGone tells whether pid is stopped (T, t), a zombie (Z, X) or
// gone, from /proc/<pid>/stat.
func stoppedOrGone(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses and may
	// hold anything, so it is found after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	switch b[i+2] {
	case 'T', 't', 'Z', 'X', 'x':
		return true
	}
	return false
}

// memfdJSON returns an anonymous file holding v as JSON, positioned at 0.
func memfdJSON(name string, v any) (*os.File, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
