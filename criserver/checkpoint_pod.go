package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CheckpointPod checkpoints a whole pod with CRIU.
func (s *RuntimeService) CheckpointPod(ctx context.Context, req *runtimeapi.CheckpointPodRequest) (*runtimeapi.CheckpointPodResponse, error) {
	if err := require(
		id("pod_sandbox_id", req.GetPodSandboxId()),
	); err != nil {
		return nil, err
	}
	return nil, notImplemented("CheckpointPod")
}
