package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// StopPodSandbox stops a pod: every container is killed at once, then the
// infra process; the sandbox becomes NotReady (sandbox.stopped); then the
// network is torn down (sandbox.network_torn_down), the network namespace
// removed and /dev/shm unmounted. It is idempotent: an unknown ID and a
// stopped sandbox are success, and a teardown that failed before is tried
// again.
func (s *Service) StopPodSandbox(ctx context.Context, id string) error {
	sb, unlock, ok, err := s.lockSandbox(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer unlock()
	return s.stopLocked(ctx, sb)
}

// stopLocked stops sb; the caller holds its lock exclusively.
func (s *Service) stopLocked(ctx context.Context, sb *projector.Sandbox) error {
	id := sb.ID
	if sb.State == projector.SandboxReady {
		if err := s.cfg.Containers.StopAll(ctx, id); err != nil {
			return fmt.Errorf("stop the containers of sandbox %s: %w", id, err)
		}
		if err := s.killInfra(ctx, id); err != nil {
			return err
		}
		if err := s.settle(ctx, id, &events.SandboxStopped{StoppedAt: time.Now().UnixNano()}); err != nil {
			return err
		}
		if sb, _ = s.cfg.Projection.Sandbox(id); sb == nil {
			return nil
		}
	}
	if err := s.teardownLocked(ctx, sb); err != nil {
		return err
	}
	if err := runtime.Unmount(s.cfg.Layout.SandboxShm(id)); err != nil {
		return err
	}
	return nil
}

// teardownLocked releases a stopped sandbox's network, if it had one and
// it is not released yet, then its network namespace. A failed teardown
// keeps the namespace (CNI DEL may need it) and is retried by the next
// stop, remove or start-up.
func (s *Service) teardownLocked(ctx context.Context, sb *projector.Sandbox) error {
	if sb.NetNSPath == "" {
		return nil
	}
	if !sb.NetworkTornDown {
		if s.cfg.Network != nil {
			if err := s.cfg.Network.Teardown(ctx, sb.ID, sb.NetNSPath, sb.Config, sb.Network); err != nil {
				return fmt.Errorf("tear down the network of sandbox %s: %w", sb.ID, err)
			}
		}
		if err := s.settle(ctx, sb.ID, &events.SandboxNetworkTornDown{}); err != nil {
			return err
		}
	}
	return removeNetNS(sb.NetNSPath)
}
