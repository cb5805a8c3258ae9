package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/runc"
)

// RemoveContainer removes a container: a running one is killed first, then
// its rootfs is unmounted and its writable layer, bundle and shim state
// are removed, container.removed is journaled and its name freed. The log
// file stays (it is the kubelet's). An unknown ID is success.
func (s *Service) RemoveContainer(ctx context.Context, id string) error {
	c, unlock, ok, err := s.lockContainer(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer unlock()
	return s.removeLocked(ctx, c)
}

// removeLocked removes c; the caller holds its lock.
func (s *Service) removeLocked(ctx context.Context, c *projector.Container) error {
	if err := s.stopLocked(ctx, c, 0); err != nil {
		return err
	}
	// The exit monitor had runc delete the container. If runc failed,
	// its state (and the cgroup with it) is still there: delete it now,
	// and fail rather than journal a removal that leaves them behind
	// until the next restart; the caller's retry finishes the job.
	if _, err := os.Stat(filepath.Join(s.cfg.Runc.Root(), c.ID)); err == nil {
		if err := s.cfg.Runc.Delete(ctx, c.ID, true); err != nil && !errors.Is(err, runc.ErrNotFound) {
			return fmt.Errorf("remove container %s: %w", c.ID, err)
		}
	}
	if err := s.removeFiles(c.ID); err != nil {
		return fmt.Errorf("remove container %s: %w", c.ID, err)
	}
	if err := s.settle(ctx, c.SandboxID, c.ID, &events.ContainerRemoved{}); err != nil {
		return err
	}
	if sb, ok := s.cfg.Projection.Sandbox(c.SandboxID); ok {
		s.cfg.Names.Release(runtime.ContainerName(sb.Config.GetMetadata(), c.Config.GetMetadata()), c.ID)
	}
	return nil
}

// removeFiles removes what an exited container has on disk; every step
// tolerates what is already gone, so it can be repeated.
func (s *Service) removeFiles(id string) error {
	l := s.cfg.Layout
	if err := runtime.Unmount(l.Rootfs(id)); err != nil {
		return err
	}
	for _, dir := range []string{l.Bundle(id), l.ShimDir(id), l.ContainerDir(id)} {
		if err := runtime.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// RemoveAll removes every container of a sandbox, stopping those that
// run. The caller holds the sandbox's lock exclusively.
func (s *Service) RemoveAll(ctx context.Context, sandboxID string) error {
	for _, c := range s.cfg.Projection.ContainersOf(sandboxID) {
		if err := s.removeOne(ctx, c.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) removeOne(ctx context.Context, id string) error {
	unlock, err := s.cfg.Locks.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	c, ok := s.cfg.Projection.Container(id)
	if !ok {
		return nil
	}
	return s.removeLocked(ctx, c)
}
