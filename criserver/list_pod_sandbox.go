package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListPodSandbox lists the sandboxes that match the filter, from the projection.
func (s *RuntimeService) ListPodSandbox(ctx context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	if s.deps.Sandboxes == nil {
		return nil, notImplemented("ListPodSandbox")
	}
	f := req.GetFilter()
	wire, err := s.sandboxesWire.encode(s.deps.Projection.ListSandboxes(f), listPodSandboxField, f == nil)
	if err != nil {
		return nil, err
	}
	return withWire(&runtimeapi.ListPodSandboxResponse{}, wire), nil
}

// listPodSandboxField is ListPodSandboxResponse.items (wirecache.go).
const listPodSandboxField = 1

func (s *RuntimeService) criSandboxList(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	sbs := s.deps.Projection.ListSandboxes(f)
	out := make([]*runtimeapi.PodSandbox, len(sbs))
	for i, sb := range sbs {
		out[i] = sb.CRI()
	}
	return out
}
