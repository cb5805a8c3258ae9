package runc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/runtime/shim"
)

// CreateOptions describe a container for Create.
type CreateOptions struct {
	ID       string // container id (runc's)
	Bundle   string // absolute bundle directory: config.json and rootfs
	StateDir string // absolute directory for the shim (created; must not hold another shim)
	LogPath  string // absolute CRI log path; "" for none

	Stdin     bool // give the container a stdin (attach can write to it)
	StdinOnce bool // close that stdin when the first attach's stdin ends
	Terminal  bool // run on a terminal; the spec's process.terminal must agree
	// Start runs the container at once (runc run --detach): Create then
	// returns a running container, and Start is not called.
	Start bool
}

// Create launches a shim that creates the container with runc create, and
// waits for the shim's readiness report. The container is then created (not
// started: call Start) and parented by the shim, which outlives this
// process. Cancelling ctx before readiness kills the shim and runc create
// and force-deletes whatever runc had recorded; a runc create killed before
// it recorded the container (in a createRuntime hook, say) may leave the
// container's cgroup behind, empty, for the caller to remove.
func (r *Runc) Create(ctx context.Context, o CreateOptions) (*Shim, error) {
	if r.shimBinary == "" {
		return nil, fmt.Errorf("%w: no shim binary configured", ErrInvalid)
	}
	cfg := shim.Config{
		ID: o.ID, Bundle: o.Bundle, StateDir: o.StateDir,
		Runc: r.binary, RuncRoot: r.root, SystemdCgroup: r.systemdCgroup,
		LogPath: o.LogPath, Stdin: o.Stdin, StdinOnce: o.StdinOnce, Terminal: o.Terminal,
		Start: o.Start, ReadyFD: 3,
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := os.MkdirAll(o.StateDir, 0o711); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(o.StateDir, shim.PidFileName)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrStateDirInUse, o.StateDir)
	}

	readR, readW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readR.Close()
	cmd := exec.Command(r.shimBinary, cfg.Args()...)
	cmd.ExtraFiles = []*os.File{readW} // fd 3
	// A new session: the shim shares no process group with this daemon,
	// so a signal to the daemon's group (a terminal's ^C, a supervisor)
	// does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	err = cmd.Start()
	readW.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrShimFailed, r.shimBinary, err)
	}
	s, err := newShim(o.ID, o.StateDir, cmd.Process.Pid, r.log)
	// The shim is reaped through its pidfd (Shim.Wait), not through
	// os.Process, which would need a Wait of its own.
	cmd.Process.Release()
	if err != nil {
		// Only if pidfd_open failed; the shim runs on, unknown to us.
		return nil, fmt.Errorf("%w: %w", ErrShimFailed, err)
	}

	ready, err := readReady(ctx, readR)
	if err != nil || ready.Error != "" {
		return nil, r.abortCreate(ctx, s, o, ready, err)
	}
	s.initPid = ready.InitPid
	r.log.Debug("container created", "id", o.ID, "shim_pid", s.pid, "init_pid", s.initPid, "duration", time.Since(start))
	return s, nil
}

// readReady reads the shim's readiness record: everything written on the
// pipe until the shim closes it.
func readReady(ctx context.Context, f *os.File) (shim.Ready, error) {
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return shim.Ready{}, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return shim.Ready{}, io.ErrUnexpectedEOF
	}
	var ready shim.Ready
	err = ready.UnmarshalText(b)
	return ready, err
}

// abortCreate cleans up after a Create that did not get a container: the
// shim reports runc's failure and exits by itself; a shim that went silent
// (or a cancelled ctx) is killed, and anything runc made is deleted.
func (r *Runc) abortCreate(ctx context.Context, s *Shim, o CreateOptions, ready shim.Ready, readErr error) error {
	defer s.Close()
	if readErr == nil {
		// runc create failed and the shim said so; it exits on its own.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := s.Wait(wctx); err != nil && !errors.Is(err, ErrShimDied) {
			r.log.Warn("shim did not exit after a failed create", "id", o.ID, "err", err)
			s.kill()
		}
		os.Remove(filepath.Join(o.StateDir, shim.PidFileName))
		return &RuncError{Command: "create", ID: o.ID, Message: ready.Error}
	}
	// The whole process group: the shim leads it (it has its own session),
	// and a runc create orphaned by the shim's death alone would finish
	// making the container after the Delete below. The container's init is
	// not in it (runc gives it a session of its own): Delete kills that.
	// The shim is our unreaped child, so its pid cannot have been reused.
	unix.Kill(-s.pid, unix.SIGKILL)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.Wait(wctx)
	if err := r.Delete(wctx, o.ID, true); err != nil {
		r.log.Warn("delete after an aborted create", "id", o.ID, "err", err)
	}
	os.Remove(filepath.Join(o.StateDir, shim.PidFileName))
	if ctx.Err() != nil {
		return fmt.Errorf("create %s: %w", o.ID, ctx.Err())
	}
	return fmt.Errorf("%w: %s: %w (shim log: %s)", ErrShimFailed, o.ID, readErr, shimLogTail(o.StateDir))
}

// shimLogTail is the end of a shim's own log, for error messages.
func shimLogTail(stateDir string) string {
	b, err := os.ReadFile(filepath.Join(stateDir, shim.ShimLogName))
	if err != nil {
		return err.Error()
	}
	b = bytes.TrimSpace(b)
	if len(b) > 512 {
		b = b[len(b)-512:]
	}
	return string(b)
}

// kill ends the shim (not the container) at once.
func (s *Shim) kill() {
	s.control(func(fd int) error { return unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) })
}
