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
	return &runtimeapi.ListPodSandboxResponse{Items: s.criSandboxList(req.GetFilter())}, nil
}

func (s *RuntimeService) criSandboxList(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	sbs := s.deps.Projection.ListSandboxes(f)
	out := make([]*runtimeapi.PodSandbox, len(sbs))
	for i, sb := range sbs {
		out[i] = sb.CRI()
	}
	return out
}
