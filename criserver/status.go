package criserver

import (
	"context"
	"encoding/json"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Status reports the runtime's two conditions: RuntimeReady (the OCI
// runtime answers) and NetworkReady (from Network). Verbose adds the
// effective configuration, the OCI runtime's version and the pod CIDRs, each
// as JSON.
func (s *RuntimeService) Status(ctx context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	oci, probeErr := s.deps.Runtime.Probe(ctx)
	runtimeReady := &runtimeapi.RuntimeCondition{Type: runtimeapi.RuntimeReady, Status: probeErr == nil}
	if probeErr != nil {
		runtimeReady.Reason = "OCIRuntimeNotReady"
		runtimeReady.Message = probeErr.Error()
	}
	ready, reason, message := s.deps.Network.NetworkStatus()
	networkReady := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: ready}
	if !ready {
		networkReady.Reason, networkReady.Message = reason, message
	}
	resp := &runtimeapi.StatusResponse{
		Status:          &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{runtimeReady, networkReady}},
		RuntimeHandlers: s.deps.Capabilities.RuntimeHandlers(),
		Features:        s.deps.Capabilities.RuntimeFeatures(),
	}
	if req.GetVerbose() {
		runtimeInfo := map[string]any{"runtime": oci}
		if probeErr != nil {
			runtimeInfo["error"] = probeErr.Error()
		}
		resp.Info = map[string]string{
			"config":   string(s.deps.Config.JSON()),
			"runtime":  mustJSON(runtimeInfo),
			"podCIDRs": mustJSON(s.currentPodCIDRs()),
		}
	}
	return resp, nil
}

func (s *RuntimeService) currentPodCIDRs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.podCIDRs...)
}

// mustJSON marshals values built here from strings, maps and slices, which
// cannot fail to marshal.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("criserver: marshal: " + err.Error())
	}
	return string(b)
}
