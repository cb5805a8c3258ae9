package events

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Type names an event: the envelope's type string. The part before the dot
// is the aggregate the event belongs to.
type Type string

// The lifecycle event types. Each names exactly one payload message.
const (
	SandboxCreatingType         Type = "sandbox.creating"
	SandboxReadyType            Type = "sandbox.ready"
	SandboxStoppedType          Type = "sandbox.stopped"
	SandboxNetworkTornDownType  Type = "sandbox.network_torn_down"
	SandboxRemovedType          Type = "sandbox.removed"
	SandboxResourcesUpdatedType Type = "sandbox.resources_updated"

	ContainerCreatingType         Type = "container.creating"
	ContainerCreatedType          Type = "container.created"
	ContainerStartedType          Type = "container.started"
	ContainerExitedType           Type = "container.exited"
	ContainerRemovedType          Type = "container.removed"
	ContainerResourcesUpdatedType Type = "container.resources_updated"
	ContainerOOMType              Type = "container.oom"

	ImagePulledType   Type = "image.pulled"
	ImageTaggedType   Type = "image.tagged"
	ImageUntaggedType Type = "image.untagged"
	ImageRemovedType  Type = "image.removed"
)

// payloads maps each type to a constructor of its (empty) payload message.
var payloads = map[Type]func() proto.Message{
	SandboxCreatingType:         func() proto.Message { return new(SandboxCreating) },
	SandboxReadyType:            func() proto.Message { return new(SandboxReady) },
	SandboxStoppedType:          func() proto.Message { return new(SandboxStopped) },
	SandboxNetworkTornDownType:  func() proto.Message { return new(SandboxNetworkTornDown) },
	SandboxRemovedType:          func() proto.Message { return new(SandboxRemoved) },
	SandboxResourcesUpdatedType: func() proto.Message { return new(SandboxResourcesUpdated) },

	ContainerCreatingType:         func() proto.Message { return new(ContainerCreating) },
	ContainerCreatedType:          func() proto.Message { return new(ContainerCreated) },
	ContainerStartedType:          func() proto.Message { return new(ContainerStarted) },
	ContainerExitedType:           func() proto.Message { return new(ContainerExited) },
	ContainerRemovedType:          func() proto.Message { return new(ContainerRemoved) },
	ContainerResourcesUpdatedType: func() proto.Message { return new(ContainerResourcesUpdated) },
	ContainerOOMType:              func() proto.Message { return new(ContainerOOM) },

	ImagePulledType:   func() proto.Message { return new(ImagePulled) },
	ImageTaggedType:   func() proto.Message { return new(ImageTagged) },
	ImageUntaggedType: func() proto.Message { return new(ImageUntagged) },
	ImageRemovedType:  func() proto.Message { return new(ImageRemoved) },
}

// Types returns every known event type, in no particular order.
func Types() []Type {
	ts := make([]Type, 0, len(payloads))
	for t := range payloads {
		ts = append(ts, t)
	}
	return ts
}

// Known reports whether t is an event type of this schema.
func Known(t Type) bool {
	_, ok := payloads[t]
	return ok
}

// TypeOf returns the type of a payload message.
func TypeOf(m proto.Message) (Type, error) {
	switch m.(type) {
	case *SandboxCreating:
		return SandboxCreatingType, nil
	case *SandboxReady:
		return SandboxReadyType, nil
	case *SandboxStopped:
		return SandboxStoppedType, nil
	case *SandboxNetworkTornDown:
		return SandboxNetworkTornDownType, nil
	case *SandboxRemoved:
		return SandboxRemovedType, nil
	case *SandboxResourcesUpdated:
		return SandboxResourcesUpdatedType, nil
	case *ContainerCreating:
		return ContainerCreatingType, nil
	case *ContainerCreated:
		return ContainerCreatedType, nil
	case *ContainerStarted:
		return ContainerStartedType, nil
	case *ContainerExited:
		return ContainerExitedType, nil
	case *ContainerRemoved:
		return ContainerRemovedType, nil
	case *ContainerResourcesUpdated:
		return ContainerResourcesUpdatedType, nil
	case *ContainerOOM:
		return ContainerOOMType, nil
	case *ImagePulled:
		return ImagePulledType, nil
	case *ImageTagged:
		return ImageTaggedType, nil
	case *ImageUntagged:
		return ImageUntaggedType, nil
	case *ImageRemoved:
		return ImageRemovedType, nil
	}
	return "", fmt.Errorf("%w: %T", ErrUnknownType, m)
}

// Encode returns the type and the wire bytes of a payload message.
func Encode(m proto.Message) (Type, []byte, error) {
	t, err := TypeOf(m)
	if err != nil {
		return "", nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", t, err)
	}
	return t, b, nil
}

// Decode parses the payload of an event of type t.
func Decode(t Type, payload []byte) (proto.Message, error) {
	newMsg, ok := payloads[t]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, t)
	}
	m := newMsg()
	if err := proto.Unmarshal(payload, m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadPayload, t, err)
	}
	return m, nil
}
