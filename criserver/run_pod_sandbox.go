package criserver

import (
	"context"
	"errors"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RunPodSandbox creates and starts a pod sandbox: its namespaces, network and infra process.
func (s *RuntimeService) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	if err := require(
		present("config", req.GetConfig() != nil),
		present("config.metadata", req.GetConfig().GetMetadata() != nil),
		id("config.metadata.name", req.GetConfig().GetMetadata().GetName()),
		id("config.metadata.namespace", req.GetConfig().GetMetadata().GetNamespace()),
		id("config.metadata.uid", req.GetConfig().GetMetadata().GetUid()),
	); err != nil {
		return nil, err
	}
	m := req.GetConfig().GetMetadata()
	if err := names("config.metadata.name", m.GetName(), "config.metadata.namespace", m.GetNamespace(),
		"config.metadata.uid", m.GetUid()); err != nil {
		return nil, err
	}
	if err := errors.Join(portMappings(req.GetConfig().GetPortMappings()), podFields(req.GetConfig())); err != nil {
		return nil, err
	}
	if s.deps.Sandboxes == nil {
		return nil, notImplemented("RunPodSandbox")
	}
	sid, err := s.deps.Sandboxes.RunPodSandbox(ctx, req.GetConfig(), req.GetRuntimeHandler())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: sid}, nil
}
