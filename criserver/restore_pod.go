package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RestorePod restores a pod from a checkpoint.
func (s *RuntimeService) RestorePod(ctx context.Context, req *runtimeapi.RestorePodRequest) (*runtimeapi.RestorePodResponse, error) {
	if err := require(
		id("checkpoint_path", req.GetCheckpointPath()),
	); err != nil {
		return nil, err
	}
	return nil, notImplemented("RestorePod")
}
