package projector

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

// CRIEvents returns the GetContainerEvents messages that event e produces,
// to be called right after Apply(e) succeeded on this state (for any other
// event it returns nil: the statuses it carries are those of this state's
// position, so they must be e's). The mapping:
//
//	container.created  -> CONTAINER_CREATED_EVENT
//	container.started  -> CONTAINER_STARTED_EVENT
//	container.exited   -> CONTAINER_STOPPED_EVENT
//	container.removed  -> CONTAINER_DELETED_EVENT (unless it was still Creating)
//	sandbox.ready      -> CONTAINER_CREATED_EVENT, CONTAINER_STARTED_EVENT
//	sandbox.stopped    -> CONTAINER_STOPPED_EVENT
//	sandbox.removed    -> CONTAINER_DELETED_EVENT (unless it was still Creating)
//
// Sandbox events carry the sandbox ID as container_id, as the kubelet's
// evented PLEG expects. created_at is the record's time: when the journal
// learned of the transition (an exit found at recovery has an older
// finished_at in its status, but its event is new). Every message carries
// the complete PodSandboxStatus and the ContainerStatus of every visible
// container of the pod at this position; for a deletion, the deleted
// object's status is its last one, and a deleted container keeps its place
// (creation order) among its pod's containers.
func (s *State) CRIEvents(e Event) []*runtimeapi.ContainerEventResponse {
	if e.Seq == 0 || e.Seq != s.seq {
		return nil
	}
	switch e.Type {
	case events.ContainerCreatedType:
		return s.containerEvent(e, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT)
	case events.ContainerStartedType:
		return s.containerEvent(e, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT)
	case events.ContainerExitedType:
		return s.containerEvent(e, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
	case events.ContainerRemovedType:
		c := s.lastRemovedContainer
		if c == nil || c.ID != e.ContainerID {
			return nil
		}
		return s.podEvents(e, c.SandboxID, nil, c, c.ID, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	case events.SandboxReadyType:
		return s.podEvents(e, e.SandboxID, nil, nil, e.SandboxID,
			runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
			runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT)
	case events.SandboxStoppedType:
		return s.podEvents(e, e.SandboxID, nil, nil, e.SandboxID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
	case events.SandboxRemovedType:
		sb := s.lastRemovedSandbox
		if sb == nil || sb.ID != e.SandboxID {
			return nil
		}
		return s.podEvents(e, sb.ID, sb, nil, sb.ID, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	}
	return nil
}

func (s *State) containerEvent(e Event, t runtimeapi.ContainerEventType) []*runtimeapi.ContainerEventResponse {
	c, ok := s.Container(e.ContainerID)
	if !ok {
		return nil
	}
	return s.podEvents(e, c.SandboxID, nil, nil, c.ID, t)
}

// podEvents builds one message per type, all sharing the pod's statuses.
// gone is the removed sandbox (its last version) when the sandbox itself was
// deleted, goneC the removed container when a container was.
func (s *State) podEvents(e Event, sandboxID string, gone *Sandbox, goneC *Container, id string, types ...runtimeapi.ContainerEventType) []*runtimeapi.ContainerEventResponse {
	sb := gone
	if sb == nil {
		var ok bool
		if sb, ok = s.Sandbox(sandboxID); !ok {
			return nil
		}
	}
	pod := sb.CRIStatus()
	ctrs := s.ContainersOf(sb.ID)
	statuses := make([]*runtimeapi.ContainerStatus, 0, len(ctrs)+1)
	for _, c := range ctrs {
		if goneC != nil && goneC.FirstSeq < c.FirstSeq {
			statuses = append(statuses, goneC.CRIStatus())
			goneC = nil
		}
		statuses = append(statuses, c.CRIStatus())
	}
	if goneC != nil {
		statuses = append(statuses, goneC.CRIStatus())
	}
	out := make([]*runtimeapi.ContainerEventResponse, len(types))
	for i, t := range types {
		out[i] = &runtimeapi.ContainerEventResponse{
			ContainerId:        id,
			ContainerEventType: t,
			CreatedAt:          e.Time,
			PodSandboxStatus:   pod,
			ContainersStatuses: statuses,
		}
	}
	return out
}
