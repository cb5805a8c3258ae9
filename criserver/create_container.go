package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CreateContainer creates a container in a sandbox from an image, without starting it.
func (s *RuntimeService) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	if err := require(
		id("pod_sandbox_id", req.GetPodSandboxId()),
		present("config", req.GetConfig() != nil),
		present("config.metadata", req.GetConfig().GetMetadata() != nil),
		id("config.metadata.name", req.GetConfig().GetMetadata().GetName()),
		present("config.image", req.GetConfig().GetImage() != nil),
		id("config.image.image", req.GetConfig().GetImage().GetImage()),
	); err != nil {
		return nil, err
	}
	if err := names("config.metadata.name", req.GetConfig().GetMetadata().GetName()); err != nil {
		return nil, err
	}
	if s.deps.Containers == nil {
		return nil, notImplemented("CreateContainer")
	}
	// The sandbox config of the request is the kubelet's copy of what
	// RunPodSandbox got; the journal's is authoritative and used instead.
	cid, err := s.deps.Containers.CreateContainer(ctx, req.GetPodSandboxId(), req.GetConfig())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: cid}, nil
}
