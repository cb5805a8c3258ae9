package criserver

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/projector"
)

// Projection is the live view of the journal every read answers from:
// statuses and lists are immutable objects of projector, never runtime
// state. *projector.Store implements it.
type Projection interface {
	Sandbox(id string) (*projector.Sandbox, bool)
	Container(id string) (*projector.Container, bool)
	Image(ref string) (*projector.Image, bool)
	// Pod is a sandbox and its containers at one journal position.
	Pod(sandboxID string) (sb *projector.Sandbox, ctrs []*projector.Container, seq uint64, ok bool)
	ListSandboxes(f *runtimeapi.PodSandboxFilter) []*projector.Sandbox
	ListContainers(f *runtimeapi.ContainerFilter) []*projector.Container
	ListImages(f *runtimeapi.ImageFilter) []*projector.Image
}

var _ Projection = (*projector.Store)(nil)
