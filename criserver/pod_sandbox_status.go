package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodSandboxStatus reports a sandbox as the projection of the journal has it.
func (s *RuntimeService) PodSandboxStatus(ctx context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	if err := require(
		id("pod_sandbox_id", req.GetPodSandboxId()),
	); err != nil {
		return nil, err
	}
	return nil, notImplemented("PodSandboxStatus")
}
