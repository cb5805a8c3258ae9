package container

import (
	"context"
	"fmt"

	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// ReopenContainerLog makes a running container's shim reopen its log file
// (the kubelet renamed it to rotate it). When it returns, a file exists at
// the log path and receives every later line.
func (s *Service) ReopenContainerLog(ctx context.Context, id string) error {
	c, unlock, ok, err := s.lockContainer(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("container", id)
	}
	defer unlock()
	if c.State != projector.ContainerRunning {
		return fmt.Errorf("%w: %w: container %s is %s, not running", runtime.ErrFailedPrecondition, ErrWrongState, c.ID, c.State)
	}
	w := s.watchOf(c.ID)
	if w == nil {
		return fmt.Errorf("%w: %w: container %s has no shim", runtime.ErrFailedPrecondition, ErrWrongState, c.ID)
	}
	if err := w.shim.ReopenLog(ctx); err != nil {
		return fmt.Errorf("reopen the log of container %s: %w", c.ID, err)
	}
	return nil
}
