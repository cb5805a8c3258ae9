package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// RuntimeName is the name logbook reports to the kubelet.
	RuntimeName = "logbook"
	// RuntimeAPIVersion is the CRI version served: v1 only.
	RuntimeAPIVersion = "v1"
	// kubeletAPIVersion is the legacy "version of the kubelet runtime API"
	// field, a constant every CRI runtime reports.
	kubeletAPIVersion = "0.1.0"
)

// Version reports the runtime's name and versions. The request's version
// (the kubelet's) needs no check: only v1 is served, on this very service.
func (s *RuntimeService) Version(ctx context.Context, req *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           kubeletAPIVersion,
		RuntimeName:       RuntimeName,
		RuntimeVersion:    s.deps.BuildVersion,
		RuntimeApiVersion: RuntimeAPIVersion,
	}, nil
}
