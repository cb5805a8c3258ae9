package criserver

import (
	"context"
	"encoding/json"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime/container"
	"github.com/logbook-cri/logbook/runtime/sandbox"
)

// Sandboxes is the pod sandbox aggregate (runtime/sandbox.Service): what
// RunPodSandbox, StopPodSandbox, RemovePodSandbox and
// UpdatePodSandboxResources change. PodSandboxStatus, ListPodSandbox and
// StreamPodSandboxes read the projection. Nil leaves all of them
// Unimplemented.
type Sandboxes interface {
	RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error)
	StopPodSandbox(ctx context.Context, id string) error
	RemovePodSandbox(ctx context.Context, id string) error
	UpdatePodSandboxResources(ctx context.Context, id string, overhead, resources *runtimeapi.LinuxContainerResources) error
}

// Containers is the container aggregate (runtime/container.Service).
// ContainerStatus, ListContainers and StreamContainers read the
// projection. Nil leaves all of them Unimplemented.
type Containers interface {
	CreateContainer(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig) (string, error)
	StartContainer(ctx context.Context, id string) error
	StopContainer(ctx context.Context, id string, timeout int64) error
	RemoveContainer(ctx context.Context, id string) error
	UpdateContainerResources(ctx context.Context, id string, r *runtimeapi.LinuxContainerResources) error
	ReopenContainerLog(ctx context.Context, id string) error
	// RuntimeSpec is the OCI spec a container runs with, for a verbose
	// ContainerStatus (what `crictl inspect` shows as runtimeSpec).
	RuntimeSpec(id string) (json.RawMessage, bool)
}

var (
	_ Sandboxes  = (*sandbox.Service)(nil)
	_ Containers = (*container.Service)(nil)
)
