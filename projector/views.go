package projector

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

// The views. A *Sandbox, *Container or *Image handed out by a State or a
// Store is immutable: the fold never writes to a published object, it copies
// it, changes the copy and replaces the map entry. Nested messages, slices
// and maps are shared with the journal events they came from and with other
// versions of the object; they are read-only too. Readers may keep a
// pointer for as long as they like and will see that version forever.

// Sandbox is a pod sandbox as the journal has it at one position.
type Sandbox struct {
	ID    string
	State SandboxState
	// Config is the PodSandboxConfig of RunPodSandbox, exactly as given:
	// metadata, labels, annotations, log directory, DNS, ports, linux
	// options (namespace options, cgroup parent, sysctls...).
	Config         *runtimeapi.PodSandboxConfig
	RuntimeHandler string
	// CreatedAt in unix ns (CRI created_at; never 0: the record's time
	// stands in when the payload has none).
	CreatedAt int64
	// NetNSPath is the pod's network namespace; empty for host network.
	NetNSPath string
	// CgroupParent is the cgroup the pod's containers go under, as the
	// cgroup driver names it.
	CgroupParent string
	// Pid of the infra process while Ready; 0 before and after (a stopped
	// pod's pid may belong to someone else).
	Pid uint32
	// Network is what CNI ADD returned (IPs, raw result, network name),
	// kept after teardown so that a DEL can be repeated with the same
	// arguments; nil for host-network pods and before Ready.
	Network *events.SandboxNetwork
	// NetworkTornDown: CNI DEL succeeded; the pod holds no IP any more.
	NetworkTornDown bool
	// StoppedAt in unix ns, once NotReady.
	StoppedAt int64
	// Overhead and Resources are the pod-level resources: from the
	// config's linux section at creation, replaced by
	// sandbox.resources_updated.
	Overhead, Resources *runtimeapi.LinuxContainerResources
	// FirstSeq is the journal position of sandbox.creating (it orders
	// lists); LastSeq the position of the last event that changed it.
	FirstSeq, LastSeq uint64
}

// Container is a container as the journal has it at one position.
type Container struct {
	ID        string
	SandboxID string
	State     ContainerState
	// Config is the ContainerConfig of CreateContainer, exactly as given.
	Config *runtimeapi.ContainerConfig
	// ImageID is the image's config digest ("sha256:..."), equal to what
	// PullImage returned (CRI image_id).
	ImageID string
	// Image is the image as the user named it (CRI image, with
	// user_specified_image).
	Image *runtimeapi.ImageSpec
	// ImageRef is the digested reference of the image (CRI image_ref).
	ImageRef string
	// LogPath is absolute; empty when the kubelet asked for no log.
	LogPath string
	// Mounts as the runtime resolved them (host paths absolute).
	Mounts     []*runtimeapi.Mount
	User       *runtimeapi.ContainerUser
	StopSignal runtimeapi.Signal
	// Resources: the config's linux resources at creation, replaced by
	// container.resources_updated.
	Resources *runtimeapi.ContainerResources
	// Pid of the container's process while Created or Running; 0 after
	// exit.
	Pid uint32
	// Times in unix ns; 0 when the transition did not happen.
	CreatedAt, StartedAt, FinishedAt int64
	// ExitCode, Reason and Message as container.exited reported them.
	ExitCode        int32
	Reason, Message string
	// FirstSeq is the position of container.creating; LastSeq the position
	// of the last event that changed it.
	FirstSeq, LastSeq uint64
}

// Image is an image present in the store.
type Image struct {
	// ID is the config digest ("sha256:...").
	ID string
	// ManifestDigest is the manifest the last pull resolved to.
	ManifestDigest string
	Size           uint64
	// Config is the image config (OCI JSON) as stored.
	Config []byte
	// ChainIDs of the layers, bottom first.
	ChainIDs    []string
	Annotations map[string]string
	// Names that point at the image, sorted: "repo:tag" and "repo@digest".
	Names []string
	// UID and Username come from the config's User (see parseImageUser);
	// at most one of them is set.
	UID      *int64
	Username string
	// FirstSeq is the position of the pull that made the image present;
	// LastSeq of the last event that changed it.
	FirstSeq, LastSeq uint64
}
