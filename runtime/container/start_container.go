package container

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// StartContainer starts a Created container's process (container.started).
// A start that fails ends the container: container.exited with exit code
// 128 and reason StartError, as containerd reports it.
func (s *Service) StartContainer(ctx context.Context, id string) error {
	c, unlock, ok, err := s.lockContainer(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("container", id)
	}
	defer unlock()
	if c.State != projector.ContainerCreated {
		return fmt.Errorf("%w: %w: container %s is %s, not created", runtime.ErrFailedPrecondition, ErrWrongState, c.ID, c.State)
	}
	w := s.watchOf(c.ID)
	if w == nil {
		return fmt.Errorf("%w: %w: container %s has no shim", runtime.ErrFailedPrecondition, ErrWrongState, c.ID)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.exited {
		return fmt.Errorf("%w: %w: container %s exited before it was started", runtime.ErrFailedPrecondition, ErrWrongState, c.ID)
	}
	// The time before runc start: a process that ends at once must not
	// finish before it started.
	startedAt := time.Now()
	if err := s.cfg.Runc.Start(ctx, c.ID); err != nil {
		w.exited = true
		if serr := s.settle(ctx, c.SandboxID, c.ID, &events.ContainerExited{
			ExitCode: StartErrorCode, FinishedAt: time.Now().UnixNano(), Reason: ReasonStartError, Message: err.Error(),
		}); serr != nil {
			s.log.Error("journal a failed start", "container", c.ID, "err", serr)
		}
		// Whatever runc left waiting is killed, so the shim exits and the
		// monitor cleans up; if runc cannot, the init is killed by its
		// pid (the shim has not reaped it: it cannot be another process).
		if kerr := s.cfg.Runc.Kill(context.WithoutCancel(ctx), c.ID, syscall.SIGKILL, true); kerr != nil {
			s.log.Debug("kill after a failed start", "container", c.ID, "err", kerr)
			if pid := w.shim.InitPid(); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return fmt.Errorf("start container %s: %w", c.ID, err)
	}
	return s.settle(ctx, c.SandboxID, c.ID, &events.ContainerStarted{Pid: uint32(w.shim.InitPid()), StartedAt: startedAt.UnixNano()})
}
