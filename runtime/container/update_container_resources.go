package container

import (
	"context"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
)

// UpdateContainerResources applies new resource limits to a created or
// running container (runc update) and journals them
// (container.resources_updated), so ContainerStatus reports them.
func (s *Service) UpdateContainerResources(ctx context.Context, id string, r *runtimeapi.LinuxContainerResources) error {
	c, unlock, ok, err := s.lockContainer(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("container", id)
	}
	defer unlock()
	if c.State != projector.ContainerCreated && c.State != projector.ContainerRunning {
		return fmt.Errorf("%w: %w: container %s is %s", runtime.ErrFailedPrecondition, ErrWrongState, c.ID, c.State)
	}
	if r == nil {
		return nil
	}
	res, err := oci.LinuxResources(r, s.cfg.Host, "linux")
	if err != nil {
		return err
	}
	if err := s.cfg.Runc.Update(ctx, c.ID, res); err != nil {
		return fmt.Errorf("update container %s: %w", c.ID, err)
	}
	return s.settle(ctx, c.SandboxID, c.ID, &events.ContainerResourcesUpdated{
		Resources: &runtimeapi.ContainerResources{Linux: r},
	})
}
