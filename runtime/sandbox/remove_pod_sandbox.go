package sandbox

import (
	"context"
	"fmt"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/runtime"
)

// RemovePodSandbox removes a pod: it is stopped first if it runs, its
// containers are removed, then its files, and sandbox.removed is journaled
// and its name freed. An unknown ID is success.
func (s *Service) RemovePodSandbox(ctx context.Context, id string) error {
	sb, unlock, ok, err := s.lockSandbox(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer unlock()
	id = sb.ID
	if err := s.stopLocked(ctx, sb); err != nil {
		return err
	}
	if err := s.cfg.Containers.RemoveAll(ctx, id); err != nil {
		return fmt.Errorf("remove the containers of sandbox %s: %w", id, err)
	}
	if err := s.removeFiles(id); err != nil {
		return fmt.Errorf("remove sandbox %s: %w", id, err)
	}
	if err := s.settle(ctx, id, &events.SandboxRemoved{}); err != nil {
		return err
	}
	s.cfg.Names.Release(runtime.SandboxName(sb.Config.GetMetadata()), id)
	return nil
}

// removeFiles removes everything a stopped sandbox has on disk. Each step
// tolerates what is already gone, so it can be repeated.
func (s *Service) removeFiles(id string) error {
	l := s.cfg.Layout
	if err := runtime.Unmount(l.SandboxShm(id)); err != nil {
		return err
	}
	if err := runtime.Unmount(l.Rootfs(id)); err != nil {
		return err
	}
	if err := removeNetNS(l.NetNS(id)); err != nil {
		return err
	}
	for _, dir := range []string{l.Bundle(id), l.ShimDir(id), l.ContainerDir(id), l.SandboxDir(id)} {
		if err := runtime.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}
