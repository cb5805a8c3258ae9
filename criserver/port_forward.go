package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PortForward prepares a streaming port-forward session into a ready
// sandbox's network namespace and returns its single-use URL.
func (s *RuntimeService) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if err := require(
		id("pod_sandbox_id", req.GetPodSandboxId()),
	); err != nil {
		return nil, err
	}
	for _, p := range req.GetPort() {
		if p <= 0 || p > 65535 {
			return nil, invalidField("port", "%d is not a TCP port", p)
		}
	}
	if s.deps.Streams == nil {
		return nil, notImplemented("PortForward")
	}
	return s.deps.Streams.PortForward(ctx, req)
}
