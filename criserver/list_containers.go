package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListContainers lists the containers that match the filter, from the projection.
func (s *RuntimeService) ListContainers(ctx context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	if s.deps.Containers == nil {
		return nil, notImplemented("ListContainers")
	}
	return &runtimeapi.ListContainersResponse{Containers: s.criContainerList(req.GetFilter())}, nil
}

func (s *RuntimeService) criContainerList(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	cs := s.deps.Projection.ListContainers(f)
	out := make([]*runtimeapi.Container, len(cs))
	for i, c := range cs {
		out[i] = c.CRI()
	}
	return out
}
