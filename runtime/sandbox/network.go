package sandbox

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

// Network attaches pods to the pod network (package network implements it
// with CNI). The sandbox aggregate makes each pod's network namespace,
// brings its loopback up, and hands the namespace to Setup; a nil Network
// leaves pods with loopback only. Host-network pods never reach it.
type Network interface {
	// Setup attaches the pod's network namespace (nsPath) to the pod network
	// and returns what must be journaled (IPs and the raw CNI result).
	Setup(ctx context.Context, sandboxID, nsPath string, config *runtimeapi.PodSandboxConfig) (*events.SandboxNetwork, error)
	// Teardown releases it. prev is the journaled result, nil when the daemon
	// died between ADD and the journal append. It is idempotent: tearing down
	// what is already gone succeeds.
	Teardown(ctx context.Context, sandboxID, nsPath string, config *runtimeapi.PodSandboxConfig, prev *events.SandboxNetwork) error
}

// Containers is what a sandbox needs of the container aggregate: its stop
// and removal take the pod's containers with them. The caller holds the
// sandbox's lock exclusively (so no container is being created in it), and
// the methods take each container's own lock.
type Containers interface {
	// StopAll kills every running or created container of the sandbox at
	// once and returns when each exit is journaled.
	StopAll(ctx context.Context, sandboxID string) error
	// RemoveAll removes every container of the sandbox, stopping any that
	// still runs.
	RemoveAll(ctx context.Context, sandboxID string) error
}

// Images gives a pod-sandbox-image's layers (image.Store implements it).
type Images interface {
	Lowers(chainIDs []string) ([]string, error)
}

// Puller pulls an image that is not present (the image aggregate
// implements it), for a pod-sandbox-image that was removed or never
// pulled.
type Puller interface {
	PullImage(ctx context.Context, ref string) (imageID string, err error)
}
