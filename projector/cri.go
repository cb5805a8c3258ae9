package projector

import (
	"encoding/json"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The CRI messages of the views. Each call builds a new top-level message;
// nested messages, maps and slices are shared with the (immutable) view, so
// a caller must treat the result as read-only below its top level (gRPC
// marshalling does). Setting top-level fields of the result is fine.

// CRIState maps the internal state onto the CRI's two sandbox states.
func (sb *Sandbox) CRIState() runtimeapi.PodSandboxState {
	if sb.State == SandboxReady {
		return runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

// CRI is the sandbox as ListPodSandbox reports it.
func (sb *Sandbox) CRI() *runtimeapi.PodSandbox {
	return &runtimeapi.PodSandbox{
		Id:             sb.ID,
		Metadata:       sb.Config.GetMetadata(),
		State:          sb.CRIState(),
		CreatedAt:      sb.CreatedAt,
		Labels:         sb.Config.GetLabels(),
		Annotations:    sb.Config.GetAnnotations(),
		RuntimeHandler: sb.RuntimeHandler,
	}
}

// CRIStatus is the sandbox as PodSandboxStatus reports it. The network
// status holds the pod's IPs from sandbox.ready until the network is torn
// down (then, and for host-network pods, it is present but empty); the
// namespace options are the config's (all POD when it has none).
func (sb *Sandbox) CRIStatus() *runtimeapi.PodSandboxStatus {
	nsOpts := sb.Config.GetLinux().GetSecurityContext().GetNamespaceOptions()
	if nsOpts == nil {
		nsOpts = &runtimeapi.NamespaceOption{}
	}
	return &runtimeapi.PodSandboxStatus{
		Id:             sb.ID,
		Metadata:       sb.Config.GetMetadata(),
		State:          sb.CRIState(),
		CreatedAt:      sb.CreatedAt,
		Network:        sb.criNetwork(),
		Linux:          &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: nsOpts}},
		Labels:         sb.Config.GetLabels(),
		Annotations:    sb.Config.GetAnnotations(),
		RuntimeHandler: sb.RuntimeHandler,
	}
}

func (sb *Sandbox) criNetwork() *runtimeapi.PodSandboxNetworkStatus {
	st := &runtimeapi.PodSandboxNetworkStatus{}
	if sb.NetworkTornDown || sb.Network == nil {
		return st
	}
	st.Ip = sb.Network.GetIp()
	if extra := sb.Network.GetAdditionalIps(); len(extra) > 0 {
		st.AdditionalIps = make([]*runtimeapi.PodIP, len(extra))
		for i, ip := range extra {
			st.AdditionalIps[i] = &runtimeapi.PodIP{Ip: ip}
		}
	}
	return st
}

// VerboseInfo is the "info" map of a verbose PodSandboxStatus: the
// runtime's internals as JSON, for crictl inspectp and humans.
func (sb *Sandbox) VerboseInfo() map[string]string {
	info := struct {
		Pid             uint32          `json:"pid"`
		State           string          `json:"state"`
		NetNSPath       string          `json:"netNamespacePath,omitempty"`
		NetworkTornDown bool            `json:"netNamespaceTornDown"`
		NetworkName     string          `json:"networkName,omitempty"`
		CNIResult       json.RawMessage `json:"cniResult,omitempty"`
		CgroupParent    string          `json:"cgroupParent,omitempty"`
		RuntimeHandler  string          `json:"runtimeHandler"`
		StoppedAt       int64           `json:"stoppedAt,omitempty"`
		FirstSeq        uint64          `json:"journalFirstSeq"`
		LastSeq         uint64          `json:"journalLastSeq"`
		Config          json.RawMessage `json:"config,omitempty"`
	}{
		Pid: sb.Pid, State: sb.State.String(), NetNSPath: sb.NetNSPath, NetworkTornDown: sb.NetworkTornDown,
		NetworkName: sb.Network.GetNetworkName(), CgroupParent: sb.CgroupParent, RuntimeHandler: sb.RuntimeHandler,
		StoppedAt: sb.StoppedAt, FirstSeq: sb.FirstSeq, LastSeq: sb.LastSeq,
		CNIResult: rawJSON(sb.Network.GetCniResult()),
	}
	if b, err := protojson.Marshal(sb.Config); err == nil {
		info.Config = b
	}
	return marshalInfo(info)
}

// CRIState maps the internal state onto the CRI's container states. A
// visible container is Created, Running or Exited; UNKNOWN is reserved for
// states no event of the schema produces.
func (c *Container) CRIState() runtimeapi.ContainerState {
	switch c.State {
	case ContainerCreated:
		return runtimeapi.ContainerState_CONTAINER_CREATED
	case ContainerRunning:
		return runtimeapi.ContainerState_CONTAINER_RUNNING
	case ContainerExited:
		return runtimeapi.ContainerState_CONTAINER_EXITED
	}
	return runtimeapi.ContainerState_CONTAINER_UNKNOWN
}

// criImageRef is image_ref: the digested reference the runtime recorded,
// or the image ID when it recorded none.
func (c *Container) criImageRef() string {
	if c.ImageRef != "" {
		return c.ImageRef
	}
	return c.ImageID
}

// CRIReason is the CRI reason: the one container.exited gave, or, when it
// gave none, "Completed" for exit code 0 and "Error" otherwise; empty
// before the container exits.
func (c *Container) CRIReason() string {
	if c.State != ContainerExited {
		return ""
	}
	if c.Reason != "" {
		return c.Reason
	}
	if c.ExitCode == 0 {
		return "Completed"
	}
	return "Error"
}

// CRI is the container as ListContainers reports it.
func (c *Container) CRI() *runtimeapi.Container {
	return &runtimeapi.Container{
		Id:           c.ID,
		PodSandboxId: c.SandboxID,
		Metadata:     c.Config.GetMetadata(),
		Image:        c.Image,
		ImageRef:     c.criImageRef(),
		State:        c.CRIState(),
		CreatedAt:    c.CreatedAt,
		Labels:       c.Config.GetLabels(),
		Annotations:  c.Config.GetAnnotations(),
		ImageId:      c.ImageID,
	}
}

// CRIStatus is the container as ContainerStatus reports it.
func (c *Container) CRIStatus() *runtimeapi.ContainerStatus {
	st := &runtimeapi.ContainerStatus{
		Id:          c.ID,
		Metadata:    c.Config.GetMetadata(),
		State:       c.CRIState(),
		CreatedAt:   c.CreatedAt,
		StartedAt:   c.StartedAt,
		FinishedAt:  c.FinishedAt,
		Image:       c.Image,
		ImageRef:    c.criImageRef(),
		Reason:      c.CRIReason(),
		Labels:      c.Config.GetLabels(),
		Annotations: c.Config.GetAnnotations(),
		Mounts:      c.Mounts,
		LogPath:     c.LogPath,
		Resources:   c.Resources,
		ImageId:     c.ImageID,
		User:        c.User,
		StopSignal:  c.StopSignal,
	}
	if c.State == ContainerExited {
		st.ExitCode = c.ExitCode
		st.Message = c.Message
	}
	return st
}

// VerboseInfo is the "info" map of a verbose ContainerStatus.
func (c *Container) VerboseInfo() map[string]string {
	info := struct {
		SandboxID string          `json:"sandboxID"`
		Pid       uint32          `json:"pid"`
		State     string          `json:"state"`
		ImageID   string          `json:"imageID"`
		LogPath   string          `json:"logPath,omitempty"`
		FirstSeq  uint64          `json:"journalFirstSeq"`
		LastSeq   uint64          `json:"journalLastSeq"`
		Config    json.RawMessage `json:"config,omitempty"`
	}{
		SandboxID: c.SandboxID, Pid: c.Pid, State: c.State.String(), ImageID: c.ImageID, LogPath: c.LogPath,
		FirstSeq: c.FirstSeq, LastSeq: c.LastSeq,
	}
	if b, err := protojson.Marshal(c.Config); err == nil {
		info.Config = b
	}
	return marshalInfo(info)
}

// RepoTags are the image's "repo:tag" names, sorted.
func (img *Image) RepoTags() []string {
	return img.names(false)
}

// RepoDigests are the image's "repo@digest" names, sorted.
func (img *Image) RepoDigests() []string {
	return img.names(true)
}

func (img *Image) names(digests bool) []string {
	var out []string
	for _, n := range img.Names {
		if strings.Contains(n, "@") == digests {
			out = append(out, n)
		}
	}
	return out
}

// CRI is the image as ListImages and ImageStatus report it, whatever
// reference it was looked up by.
func (img *Image) CRI() *runtimeapi.Image {
	out := &runtimeapi.Image{
		Id:          img.ID,
		RepoTags:    img.RepoTags(),
		RepoDigests: img.RepoDigests(),
		Size:        img.Size,
		Username:    img.Username,
		Spec:        &runtimeapi.ImageSpec{Image: img.ID, Annotations: img.Annotations},
	}
	if img.UID != nil {
		out.Uid = &runtimeapi.Int64Value{Value: *img.UID}
	}
	return out
}

func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return b
}

func marshalInfo(v any) map[string]string {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return map[string]string{"info": string(b)}
}
