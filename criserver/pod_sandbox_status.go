package criserver

import (
	"context"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
)

// PodSandboxStatus reports a sandbox as the projection of the journal has
// it, found by ID or unique prefix. With enable-pod-events it carries a
// timestamp and the statuses of all the pod's containers, read at the same
// journal position (the kubelet takes a timestamp as "the statuses are
// complete", so it never gets one without the other).
func (s *RuntimeService) PodSandboxStatus(ctx context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	if err := require(
		id("pod_sandbox_id", req.GetPodSandboxId()),
	); err != nil {
		return nil, err
	}
	if s.deps.Sandboxes == nil {
		return nil, notImplemented("PodSandboxStatus")
	}
	sid := req.GetPodSandboxId()
	sb, ctrs, _, ok := s.deps.Projection.Pod(sid)
	if !ok {
		if l := s.deps.Projection.ListSandboxes(&runtimeapi.PodSandboxFilter{Id: sid}); len(l) == 1 {
			sb, ctrs, _, ok = s.deps.Projection.Pod(l[0].ID)
		}
	}
	if !ok {
		return nil, fmt.Errorf("pod sandbox %q: %w", sid, runtime.ErrNotFound)
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: sb.CRIStatus()}
	if req.GetVerbose() {
		resp.Info = sb.VerboseInfo()
	}
	if s.deps.Config.EnablePodEvents {
		resp.Timestamp = time.Now().UnixNano()
		resp.ContainersStatuses = make([]*runtimeapi.ContainerStatus, len(ctrs))
		for i, c := range ctrs {
			resp.ContainersStatuses[i] = c.CRIStatus()
		}
	}
	return resp, nil
}
