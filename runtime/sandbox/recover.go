package sandbox

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/runc"
)

// RollbackReason is the reason of the sandbox.removed that closes a
// sandbox whose RunPodSandbox the daemon did not live to finish.
const RollbackReason = "rolled back at start-up: logbookd stopped during RunPodSandbox"

// Recover reconciles the journal's sandboxes with the node after a start.
// The daemon calls it once, after the container aggregate's Recover (so
// every container's exit is journaled or monitored) and before serving:
//
//   - a sandbox still Creating is rolled back (infra killed, network torn
//     down, namespace, /dev/shm and files removed) and closed with
//     sandbox.removed;
//   - a Ready sandbox whose infra's shim is alive is monitored again; one
//     whose infra is gone is stopped as StopPodSandbox would;
//   - a NotReady sandbox whose network teardown never completed is torn
//     down now;
//   - network namespaces and sandbox directories no sandbox owns are
//     removed;
//   - the names of live sandboxes are reserved again.
//
// Errors on one sandbox are logged and do not stop the others; the first
// is returned.
func (s *Service) Recover(ctx context.Context) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	creating, _ := s.cfg.Projection.Creating()
	for _, sb := range creating {
		keep(s.rollback(ctx, sb))
	}
	for _, sb := range s.cfg.Projection.ListSandboxes(nil) {
		if err := s.cfg.Names.Reserve(runtime.SandboxName(sb.Config.GetMetadata()), sb.ID); err != nil {
			s.log.Error("sandbox name taken twice in the journal", "sandbox", sb.ID, "err", err)
		}
		keep(s.reconcile(ctx, sb))
	}
	keep(s.removeLeaks())
	return first
}

func (s *Service) reconcile(ctx context.Context, sb *projector.Sandbox) error {
	if sb.State == projector.SandboxReady {
		sh, err := runc.OpenShim(sb.ID, s.cfg.Layout.ShimDir(sb.ID), s.log)
		if err == nil {
			s.monitor(sb.ID, sh)
			return nil
		}
		s.log.Warn("the infra process of a ready sandbox is gone; stopping the sandbox", "sandbox", sb.ID, "err", err)
	}
	unlock, err := s.cfg.Locks.Lock(ctx, sb.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.stopLocked(ctx, sb); err != nil {
		s.log.Error("recover sandbox", "sandbox", sb.ID, "err", err)
		return err
	}
	return nil
}

// rollback undoes whatever a RunPodSandbox interrupted by a crash made;
// every step tolerates what was never made.
func (s *Service) rollback(ctx context.Context, sb *projector.Sandbox) error {
	id := sb.ID
	s.log.Info("rolling back an interrupted RunPodSandbox", "sandbox", id)
	killShim(s.cfg.Layout.ShimDir(id))
	if err := s.cfg.Runc.Delete(ctx, id, true); err != nil && !errors.Is(err, runc.ErrNotFound) {
		return err
	}
	if sb.NetNSPath != "" && s.cfg.Network != nil {
		if err := s.cfg.Network.Teardown(ctx, id, sb.NetNSPath, sb.Config, nil); err != nil {
			s.log.Error("tear down the network of a rolled back sandbox", "sandbox", id, "err", err)
			return err
		}
	}
	if err := s.removeFiles(id); err != nil {
		return err
	}
	return s.settle(ctx, id, &events.SandboxRemoved{Reason: RollbackReason})
}

// removeLeaks removes network namespaces and sandbox directories that no
// live sandbox owns: what a crash between a removal's side effects and its
// journal entry, or a rollback that failed, left behind.
func (s *Service) removeLeaks() error {
	l := s.cfg.Layout
	owned := func(id string) bool {
		_, ok := s.cfg.Projection.Sandbox(id)
		return ok
	}
	var errs []error
	for _, id := range runtime.DirNames(filepath.Dir(l.NetNS("x"))) {
		if !owned(id) {
			s.log.Info("removing a leaked network namespace", "sandbox", id)
			errs = append(errs, removeNetNS(l.NetNS(id)))
		}
	}
	for _, id := range runtime.DirNames(filepath.Dir(l.SandboxDir("x"))) {
		if !owned(id) {
			s.log.Info("removing a leaked sandbox directory", "sandbox", id)
			errs = append(errs, runtime.Unmount(l.SandboxShm(id)), runtime.RemoveAll(l.SandboxDir(id)))
		}
	}
	return errors.Join(errs...)
}
