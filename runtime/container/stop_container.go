package container

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/runc"
)

// StopContainer stops a container: its stop signal (the request's, else
// the image's STOPSIGNAL, else SIGTERM) to its init, then SIGKILL to all
// its processes once timeout seconds have passed (at once when timeout is
// 0 or the container never started). It returns when the exit is
// journaled. An unknown or exited container is success.
func (s *Service) StopContainer(ctx context.Context, id string, timeout int64) error {
	c, unlock, ok, err := s.lockContainer(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer unlock()
	return s.stopLocked(ctx, c, time.Duration(timeout)*time.Second)
}

// stopLocked stops c; the caller holds its lock.
func (s *Service) stopLocked(ctx context.Context, c *projector.Container, grace time.Duration) error {
	w := s.watchOf(c.ID)
	if c.State == projector.ContainerExited {
		if w != nil { // exit journaled, runc not yet told: a moment
			_, err := s.awaitExit(ctx, w, killWait)
			return err
		}
		return nil
	}
	if w == nil {
		// No shim to wait for (it died and the exit is not journaled yet:
		// cannot happen outside recovery). Make sure nothing runs.
		return s.forceExit(ctx, c)
	}
	if c.State == projector.ContainerRunning && grace > 0 {
		sig, err := oci.StopSignal(c.StopSignal, "")
		if err != nil {
			sig = syscall.SIGTERM
		}
		if err := s.signal(ctx, w, sig, false); err != nil {
			return err
		}
		if done, err := s.awaitExit(ctx, w, grace); done || err != nil {
			return err
		}
	}
	if err := s.signal(ctx, w, syscall.SIGKILL, true); err != nil {
		return err
	}
	done, err := s.awaitExit(ctx, w, killWait)
	if err == nil && !done {
		err = w.notStopped()
	}
	return err
}

// signal sends sig to the init of w's container (or every process, with
// all); a container that has just stopped is not an error. runc fails in
// more ways than it names on a container exiting under it (kill --all
// freezes it first, and may find its cgroup gone), so a failure followed
// by the exit within exitRaceWait is not one either.
func (s *Service) signal(ctx context.Context, w *watch, sig syscall.Signal, all bool) error {
	err := s.cfg.Runc.Kill(ctx, w.id, sig, all)
	if err == nil || errors.Is(err, runc.ErrNotRunning) || errors.Is(err, runc.ErrNotFound) {
		return nil
	}
	if done, werr := s.awaitExit(ctx, w, exitRaceWait); done && werr == nil {
		return nil
	}
	return fmt.Errorf("signal container %s: %w", w.id, err)
}

// exitRaceWait is how long a failed signal waits for the exit that would
// explain it.
const exitRaceWait = time.Second

// forceExit ends a container that has no monitor: whatever runs is
// killed, runc forgets it, and its exit is journaled as unknown.
func (s *Service) forceExit(ctx context.Context, c *projector.Container) error {
	w := &watch{id: c.ID, sandboxID: c.SandboxID, done: make(chan struct{})}
	s.finish(w, s.orphaned(c.ID, errors.New("no shim monitors it")))
	return nil
}

// StopAll kills every created or running container of a sandbox at once
// and waits until each exit is journaled. The caller holds the sandbox's
// lock exclusively (see package sandbox).
func (s *Service) StopAll(ctx context.Context, sandboxID string) error {
	var unlocks []func()
	defer func() {
		for _, u := range unlocks {
			u()
		}
	}()
	var pending []*watch
	for _, c := range s.cfg.Projection.ContainersOf(sandboxID) {
		unlock, err := s.cfg.Locks.Lock(ctx, c.ID)
		if err != nil {
			return err
		}
		unlocks = append(unlocks, unlock)
		id := c.ID
		c, ok := s.cfg.Projection.Container(id)
		if !ok || c.State == projector.ContainerExited {
			if w := s.watchOf(id); w != nil {
				pending = append(pending, w)
			}
			continue
		}
		w := s.watchOf(c.ID)
		if w == nil {
			if err := s.forceExit(ctx, c); err != nil {
				return err
			}
			continue
		}
		if err := s.signal(ctx, w, syscall.SIGKILL, true); err != nil {
			return err
		}
		pending = append(pending, w)
	}
	for _, w := range pending {
		done, err := s.awaitExit(ctx, w, killWait)
		if err != nil {
			return err
		}
		if !done {
			return w.notStopped()
		}
	}
	return nil
}
