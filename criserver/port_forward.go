package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PortForward prepares a streaming port-forward session into a sandbox's network namespace and returns its URL.
func (s *RuntimeService) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if err := require(
		id("pod_sandbox_id", req.GetPodSandboxId()),
	); err != nil {
		return nil, err
	}
	return nil, notImplemented("PortForward")
}
