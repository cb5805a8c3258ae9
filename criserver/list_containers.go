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
	f := req.GetFilter()
	wire, err := s.containersWire.encode(s.deps.Projection.ListContainers(f), listContainersField, f == nil)
	if err != nil {
		return nil, err
	}
	return withWire(&runtimeapi.ListContainersResponse{}, wire), nil
}

// listContainersField is ListContainersResponse.containers (wirecache.go).
const listContainersField = 1

func (s *RuntimeService) criContainerList(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	cs := s.deps.Projection.ListContainers(f)
	out := make([]*runtimeapi.Container, len(cs))
	for i, c := range cs {
		out[i] = c.CRI()
	}
	return out
}
