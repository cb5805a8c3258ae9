package rig

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper makes this process a child sub-reaper and reaps the orphans that
// come to it (the shims of a killed daemon, a runc exec it left behind).
// It leaves alone every child started through Start or Run, whose exit
// status an exec.Cmd waits for: those are registered, under mu and before
// Start returns, in protected. Everything this process runs must therefore
// be started through it.
type Reaper struct {
	mu        sync.Mutex
	protected map[int]bool

	stop chan struct{}
	done chan struct{}
}

// NewReaper becomes a sub-reaper and starts the reaping goroutine, which
// Close stops.
func NewReaper() (*Reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, err
	}
	r := &Reaper{protected: map[int]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			r.reap()
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return r, nil
}

// Close stops the goroutine and reaps once more.
func (r *Reaper) Close() {
	close(r.stop)
	<-r.done
	r.reap()
}

// reap waits for every zombie child of this process that is not protected.
func (r *Reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	self := []byte(strconv.Itoa(os.Getpid()))
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || r.protected[pid] {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
		if len(f) > 1 && string(f[0]) == "Z" && bytes.Equal(f[1], self) {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// Start starts cmd with its pid protected until Wait.
func (r *Reaper) Start(cmd *exec.Cmd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.protected[cmd.Process.Pid] = true
	return nil
}

// Wait waits for a command started with Start.
func (r *Reaper) Wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	r.mu.Lock()
	delete(r.protected, cmd.Process.Pid)
	r.mu.Unlock()
	return err
}

// Run runs a short command to its end.
func (r *Reaper) Run(cmd *exec.Cmd) error {
	if err := r.Start(cmd); err != nil {
		return err
	}
	return r.Wait(cmd)
}

// Output runs cmd and returns its stdout; stderr is in the error.
func (r *Reaper) Output(cmd *exec.Cmd) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := r.Run(cmd); err != nil {
		return out.Bytes(), &exitError{cmd: cmd.String(), err: err, stderr: errb.String()}
	}
	return out.Bytes(), nil
}

type exitError struct {
	cmd, stderr string
	err         error
}

func (e *exitError) Error() string {
	return e.cmd + ": " + e.err.Error() + ": " + string(bytes.TrimSpace([]byte(e.stderr)))
}

func (e *exitError) Unwrap() error { return e.err }
