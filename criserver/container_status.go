package criserver

import (
	"context"
	"encoding/json"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
)

// ContainerStatus reports a container as the projection of the journal has
// it, found by ID or unique prefix. A verbose status adds the runtime's
// view as JSON under "info": the journal's details (pid, positions, the
// config) and the OCI spec the container runs with.
func (s *RuntimeService) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	if err := require(
		id("container_id", req.GetContainerId()),
	); err != nil {
		return nil, err
	}
	if s.deps.Containers == nil {
		return nil, notImplemented("ContainerStatus")
	}
	cid := req.GetContainerId()
	c, ok := s.deps.Projection.Container(cid)
	if !ok {
		if l := s.deps.Projection.ListContainers(&runtimeapi.ContainerFilter{Id: cid}); len(l) == 1 {
			c, ok = l[0], true
		}
	}
	if !ok {
		return nil, fmt.Errorf("container %q: %w", cid, runtime.ErrNotFound)
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: c.CRIStatus()}
	if req.GetVerbose() {
		resp.Info = c.VerboseInfo()
		if spec, ok := s.deps.Containers.RuntimeSpec(c.ID); ok {
			resp.Info["info"] = withField(resp.Info["info"], "runtimeSpec", spec)
		}
	}
	return resp, nil
}

// withField adds one field to a JSON object (the verbose info), leaving it
// as it was if it is not an object.
func withField(object, key string, value json.RawMessage) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(object), &m); err != nil {
		return object
	}
	m[key] = value
	b, err := json.Marshal(m)
	if err != nil {
		return object
	}
	return string(b)
}
