package sandbox

import (
	"context"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
)

// UpdatePodSandboxResources records the pod-level resources the kubelet
// decided (in-place resize). The pod's containers are resized by their own
// UpdateContainerResources; the pod's cgroup parent belongs to the
// kubelet. The sandbox must be Ready, and the resources valid for a
// container (oci.LinuxResources).
func (s *Service) UpdatePodSandboxResources(ctx context.Context, id string, overhead, resources *runtimeapi.LinuxContainerResources) error {
	sb, unlock, ok, err := s.lockSandbox(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("pod sandbox %q: %w", id, runtime.ErrNotFound)
	}
	defer unlock()
	if sb.State != projector.SandboxReady {
		return fmt.Errorf("%w: %w: %s is %s", runtime.ErrFailedPrecondition, ErrNotReady, sb.ID, sb.State)
	}
	// Recorded, not applied, but still only if a container could have them.
	if _, err := oci.LinuxResources(overhead, s.cfg.Host, "overhead"); err != nil {
		return err
	}
	if _, err := oci.LinuxResources(resources, s.cfg.Host, "resources"); err != nil {
		return err
	}
	return s.settle(ctx, sb.ID, &events.SandboxResourcesUpdated{Overhead: overhead, Resources: resources})
}
