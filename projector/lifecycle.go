package projector

// The lifecycle state machines of pod sandboxes, containers and images. The
// tables below are the whole of what the fold accepts: an event whose
// (state, type) pair has no row is an illegal transition, and so is one
// whose row's guard (written beside the diagram, checked in fold.go) fails.
//
// Pod sandbox:
//
//	            sandbox.creating
//	  (Absent) -----------------> Creating ------------------------+
//	                                 |                             |
//	                                 | sandbox.ready               | sandbox.removed
//	                                 v                             | (rolled back)
//	     sandbox.resources_updated  Ready                          |
//	                       +-----> (CRI SANDBOX_READY) ---+        |
//	                       |         |                    |        |
//	                       +---------+                    |        |
//	                                 | sandbox.stopped    |        |
//	                                 v                    |        |
//	     sandbox.network_torn_down NotReady               |        |
//	                       +-----> (CRI SANDBOX_NOTREADY) |        |
//	                       |         |                             |
//	                       +---------+                             |
//	                                 | sandbox.removed             |
//	                                 v                             |
//	                              Removed <------------------------+
//
// Guards:
//   - sandbox.creating: the ID was never used (by a sandbox or a container,
//     live or removed) and no live sandbox has the same metadata (name,
//     namespace, uid, attempt).
//   - sandbox.stopped: every container of the pod is Exited (the payload
//     says the infra process and every container are gone).
//   - sandbox.network_torn_down: at most once.
//   - sandbox.removed: every container of the pod is removed.
//
// Container:
//
//	              container.creating
//	    (Absent) -------------------> Creating ------------------------------+
//	                                     |                                   |
//	                                     | container.created                 |
//	                                     v                                   |
//	 container.resources_updated      Created -----------------------------+ |
//	                       +-------> (CRI CONTAINER_CREATED) ---------+    | |
//	                       |             |        |                   |    | |
//	                       +-------------+        | container.started |    | |
//	                                              v                   |    | |
//	 container.resources_updated      Running                         |    | |
//	                       +-------> (CRI CONTAINER_RUNNING)          |    | |
//	                       |             |        |                   |    | |
//	                       +-------------+        | container.exited  |    | |
//	                                              v                   |    | |
//	                                  Exited <------------------------+    | |
//	                                 (CRI CONTAINER_EXITED)  container.exited| |
//	                                     |                  (start failed or | |
//	                                     |                   stopped before  | |
//	                                     | container.removed start)          | |
//	                                     v                                   | |
//	                                  Removed <----- container.removed ------+ |
//	                                     ^                                     |
//	                                     +------ container.removed ------------+
//	                                                (rolled back)
//
// Guards:
//   - container.creating: the ID was never used; its sandbox is Ready; no
//     live container of that sandbox has the same metadata (name, attempt).
//   - every later container event that names a sandbox names the
//     container's own.
//
// container.oom (an OOM kill in the container's cgroup, which need not end
// the container) is legal in Created, Running and Exited (the kernel's news
// may race the exit) and changes nothing: not the state, not a field, not
// LastSeq. It is in the journal for its readers (metrics, the operator),
// not for the fold.
//
// Image (no tombstones: an image can be pulled again after removal):
//
//	                image.pulled (refresh)
//	                image.tagged, image.untagged
//	                      +--------+
//	          image.pulled|        |
//	 (Absent) ----------> Present <+
//	    ^                    |
//	    +--- image.removed --+  (drops the image's names too)
//
// Guards:
//   - image.tagged: the name points at no image (moving a name is
//     image.untagged then image.tagged).
//   - image.untagged: the name points at this image.
//
// Objects in Creating are internal: a CRI reader never sees them (lists and
// status lookups skip them); recovery finds them with State.Creating.
// Removed sandboxes and containers are dropped from the state, leaving only
// their ID as a tombstone, so that a removed ID can never be created again.

import (
	"strconv"

	"github.com/logbook-cri/logbook/journal/events"
)

// SandboxState is a pod sandbox's internal lifecycle state. The numeric
// values are persisted in snapshots and never change.
type SandboxState uint8

const (
	// SandboxAbsent is no state at all: the From of a sandbox's first event.
	SandboxAbsent   SandboxState = 0
	SandboxCreating SandboxState = 1
	SandboxReady    SandboxState = 2
	SandboxNotReady SandboxState = 3
	// SandboxRemoved is reached by sandbox.removed; removed sandboxes are
	// dropped from the state, so no stored sandbox is ever in it.
	SandboxRemoved SandboxState = 4
)

func (s SandboxState) String() string {
	switch s {
	case SandboxAbsent:
		return "Absent"
	case SandboxCreating:
		return "Creating"
	case SandboxReady:
		return "Ready"
	case SandboxNotReady:
		return "NotReady"
	case SandboxRemoved:
		return "Removed"
	}
	return "SandboxState(" + strconv.Itoa(int(s)) + ")"
}

// ContainerState is a container's internal lifecycle state. The numeric
// values are persisted in snapshots and never change.
type ContainerState uint8

const (
	// ContainerAbsent is no state at all: the From of a container's first
	// event.
	ContainerAbsent   ContainerState = 0
	ContainerCreating ContainerState = 1
	ContainerCreated  ContainerState = 2
	ContainerRunning  ContainerState = 3
	ContainerExited   ContainerState = 4
	// ContainerRemoved is reached by container.removed; removed containers
	// are dropped from the state.
	ContainerRemoved ContainerState = 5
)

func (s ContainerState) String() string {
	switch s {
	case ContainerAbsent:
		return "Absent"
	case ContainerCreating:
		return "Creating"
	case ContainerCreated:
		return "Created"
	case ContainerRunning:
		return "Running"
	case ContainerExited:
		return "Exited"
	case ContainerRemoved:
		return "Removed"
	}
	return "ContainerState(" + strconv.Itoa(int(s)) + ")"
}

// ImageState is an image's state: present in the store or not.
type ImageState uint8

const (
	ImageAbsent  ImageState = 0
	ImagePresent ImageState = 1
)

func (s ImageState) String() string {
	switch s {
	case ImageAbsent:
		return "Absent"
	case ImagePresent:
		return "Present"
	}
	return "ImageState(" + strconv.Itoa(int(s)) + ")"
}

// row is one legal transition: in state from, event on leads to state to.
type row[S ~uint8] struct {
	from S
	on   events.Type
	to   S
}

// The transition tables, read-only. A self-loop (from == to) changes the
// object's fields but not its state.
var (
	sandboxTable = []row[SandboxState]{
		{SandboxAbsent, events.SandboxCreatingType, SandboxCreating},
		{SandboxCreating, events.SandboxReadyType, SandboxReady},
		{SandboxCreating, events.SandboxRemovedType, SandboxRemoved},
		{SandboxReady, events.SandboxStoppedType, SandboxNotReady},
		{SandboxReady, events.SandboxResourcesUpdatedType, SandboxReady},
		{SandboxNotReady, events.SandboxNetworkTornDownType, SandboxNotReady},
		{SandboxNotReady, events.SandboxRemovedType, SandboxRemoved},
	}
	containerTable = []row[ContainerState]{
		{ContainerAbsent, events.ContainerCreatingType, ContainerCreating},
		{ContainerCreating, events.ContainerCreatedType, ContainerCreated},
		{ContainerCreating, events.ContainerRemovedType, ContainerRemoved},
		{ContainerCreated, events.ContainerStartedType, ContainerRunning},
		{ContainerCreated, events.ContainerExitedType, ContainerExited},
		{ContainerCreated, events.ContainerRemovedType, ContainerRemoved},
		{ContainerCreated, events.ContainerResourcesUpdatedType, ContainerCreated},
		{ContainerRunning, events.ContainerExitedType, ContainerExited},
		{ContainerRunning, events.ContainerResourcesUpdatedType, ContainerRunning},
		{ContainerExited, events.ContainerRemovedType, ContainerRemoved},
		// container.oom records a kill; it is no transition (see fold.go).
		{ContainerCreated, events.ContainerOOMType, ContainerCreated},
		{ContainerRunning, events.ContainerOOMType, ContainerRunning},
		{ContainerExited, events.ContainerOOMType, ContainerExited},
	}
	imageTable = []row[ImageState]{
		{ImageAbsent, events.ImagePulledType, ImagePresent},
		{ImagePresent, events.ImagePulledType, ImagePresent},
		{ImagePresent, events.ImageTaggedType, ImagePresent},
		{ImagePresent, events.ImageUntaggedType, ImagePresent},
		{ImagePresent, events.ImageRemovedType, ImageAbsent},
	}
)

// next looks the pair up in a table (a handful of rows: a scan is as fast
// as a map and keeps the table a plain literal).
func next[S ~uint8](table []row[S], from S, on events.Type) (S, bool) {
	for _, r := range table {
		if r.from == from && r.on == on {
			return r.to, true
		}
	}
	return 0, false
}
