package oci

import (
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// OCIVersion is the ociVersion written into every spec: the runtime-spec
// version runc 1.1.5 implements (it reports "1.0.2-dev"). The Go types come
// from a newer runtime-spec module, but only fields runc 1.1.5 knows are ever
// set, so the JSON is a 1.0.2 document.
const OCIVersion = "1.0.2"

// CgroupDriver names how cgroup paths are spelled for runc.
type CgroupDriver string

const (
	// Cgroupfs: cgroupsPath is a path, "<parent>/<id>". The zero value of
	// CgroupDriver means Cgroupfs.
	Cgroupfs CgroupDriver = "cgroupfs"
	// Systemd: cgroupsPath is "<slice>:<prefix>:<id>" and runc asks systemd
	// for a transient scope in that slice.
	Systemd CgroupDriver = "systemd"
)

// Defaults used when Host leaves a field empty.
const (
	// DefaultCgroupfsParent is the parent of every cgroup when neither the
	// pod nor Host names one, with the cgroupfs driver.
	DefaultCgroupfsParent = "/logbook"
	// DefaultSystemdParent is the same for the systemd driver.
	DefaultSystemdParent = "system.slice"
	// SystemdScopePrefix is the middle part of systemd cgroup paths: units
	// are named "logbook-<id>.scope".
	SystemdScopePrefix = "logbook"
	// SandboxOOMScoreAdj is the infra process's oom_score_adj, the value
	// kubelets give pod infrastructure so the OOM killer takes it last.
	SandboxOOMScoreAdj = -998
	// SandboxCPUShares is the infra process's cpu shares: it does nothing
	// but wait and should not weigh on the pod's CPU share.
	SandboxCPUShares = 2
	// DefaultPathEnv is the PATH a process gets when neither the image nor
	// the request sets one.
	DefaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Host is what the node tells: detected once by the daemon (or set in its
// config) and passed with every request. Nothing here is read by this
// package from the machine itself.
type Host struct {
	// CgroupDriver is cgroupfs (the zero value) or systemd.
	CgroupDriver CgroupDriver
	// DefaultCgroupParent is the parent cgroup when the pod names none; empty
	// means DefaultCgroupfsParent or DefaultSystemdParent.
	DefaultCgroupParent string
	// CgroupV2: the unified hierarchy is in charge. It allows
	// LinuxContainerResources.unified and gives containers a cgroup
	// namespace.
	CgroupV2 bool
	// SwapAccounting: the memory controller accounts swap (memory.memsw.* on
	// v1, memory.swap.max on v2). Without it swap limits are left out, as
	// runc would fail to write them.
	SwapAccounting bool
	// RecursiveReadOnlyMounts: runc and the kernel implement the "rro" mount
	// option (runc >= 1.1, Linux >= 5.12 for mount_setattr).
	RecursiveReadOnlyMounts bool
	// PidsLimit, when positive, caps the number of tasks of every container
	// (the CRI carries no pids limit of its own).
	PidsLimit int64

	// RestrictOOMScoreAdj: oom_score_adj values below MinOOMScoreAdj are
	// raised to it instead of being refused by the kernel (set when the
	// daemon cannot lower scores, as in this VM where negative values are
	// refused: then MinOOMScoreAdj is 0).
	RestrictOOMScoreAdj bool
	MinOOMScoreAdj      int

	// AppArmor: the host kernel has AppArmor enabled.
	AppArmor bool
	// AppArmorDefaultProfile is the profile that "runtime/default" names
	// when AppArmor is enabled; empty leaves such containers unconfined.
	// Loading it is the daemon's business.
	AppArmorDefaultProfile string

	// Arch is the GOARCH whose syscall table seccomp filters target; empty
	// means the architecture logbook was built for.
	Arch string
	// KernelRelease is `uname -r`, for the minimum-kernel conditions of
	// seccomp profiles; empty means "new enough for every condition".
	KernelRelease string
	// Capabilities are the capability names the host kernel and runc know
	// ("CAP_CHOWN", ...), granted whole to privileged containers; nil means
	// AllCapabilities().
	Capabilities []string
	// Devices are the host's device nodes (everything under /dev that is a
	// device), given to privileged containers.
	Devices []HostDevice
	// NodeHostname is the node's hostname: the HOSTNAME of containers in a
	// host-network pod that names no hostname of its own.
	NodeHostname string
	// CPUs and MemoryNodes are the node's online CPUs and memory nodes as
	// lists ("0-3,6"): a cpuset outside them is refused at once rather
	// than by the kernel once the container is half made. Empty: unknown,
	// only the syntax is checked.
	CPUs, MemoryNodes string
}

// HostDevice is a device node on the host, as the caller found it by stat.
type HostDevice struct {
	// Path is the node's absolute host path (symlinks resolved).
	Path string
	// Type is "c" (character) or "b" (block).
	Type  string
	Major int64
	Minor int64
	// FileMode holds the node's permission bits.
	FileMode os.FileMode
	UID      uint32
	GID      uint32
}

// SandboxInput is everything SandboxSpec needs to describe a pod's infra
// process.
type SandboxInput struct {
	// ID is the sandbox id: it names the cgroup.
	ID string
	// Config is the RunPodSandbox request's config, as the client sent it.
	Config *runtimeapi.PodSandboxConfig
	Host   Host
	// Rootfs is the absolute host path of the read-only root holding the
	// infra binary.
	Rootfs string
	// Args runs the infra process; nil means ["/pause"].
	Args []string
	// ImageName names the infra image in the annotations; empty for the
	// built-in pause.
	ImageName string
	// NetNSPath is the pod's network namespace (a bind-mounted nsfs file).
	// Required unless the pod uses the host network.
	NetNSPath string
	// ShmPath is the host path of the pod's /dev/shm tmpfs, shared with its
	// containers. Empty gives the infra process a private one. Ignored with
	// host IPC, where /dev/shm is the host's.
	ShmPath string
	// SeccompProfiles holds the content of every Localhost seccomp profile
	// the request names, keyed by the path as the request spells it.
	SeccompProfiles map[string][]byte
}

// ContainerInput is everything ContainerSpec needs to describe a workload
// container.
type ContainerInput struct {
	// ID is the container id; SandboxID the id of its pod.
	ID        string
	SandboxID string
	// Config is the CreateContainer request's config; Sandbox the config of
	// its pod, both as the client sent them.
	Config  *runtimeapi.ContainerConfig
	Sandbox *runtimeapi.PodSandboxConfig
	Host    Host
	// Rootfs is the absolute host path of the container's root filesystem.
	Rootfs string
	Image  Image
	// Namespaces are the pod's namespaces the container may join.
	Namespaces SandboxNamespaces
	// Files are the pod's shared files the container sees.
	Files SandboxFiles
	// MountSources maps the host_path of a CRI mount to the path to mount
	// (symlinks resolved); a host path missing here is mounted as given.
	MountSources map[string]string
	// ImageVolumes maps the container_path of each CRI mount that names an
	// image to the host directory where the caller mounted that image
	// (image_sub_path applied). An image mount missing here is unsupported.
	ImageVolumes map[string]string
	// Devices maps the host_path of each CRI device to the device nodes it
	// names: one node for a device (symlinks resolved), every node below it
	// for a directory (their Path under host_path).
	Devices map[string][]HostDevice
	// SeccompProfiles holds the content of every Localhost seccomp profile
	// the request names, keyed by the path as the request spells it.
	SeccompProfiles map[string][]byte
}

// Image is what the container's image tells.
type Image struct {
	// Name is the image reference, for the annotations.
	Name string
	// Config is the image's config (USER, ENV, ENTRYPOINT, CMD, WORKDIR).
	Config ocispec.ImageConfig
	// Passwd and Group are the image's /etc/passwd and /etc/group; nil when
	// the image has none.
	Passwd []byte
	Group  []byte
}

// SandboxNamespaces are the paths of the pod's namespaces, for the
// containers that join them.
type SandboxNamespaces struct {
	// Network is the pod's network namespace; empty with host network.
	Network string
	// IPC, UTS and PID are the infra process's, e.g. /proc/<pid>/ns/ipc.
	IPC string
	UTS string
	PID string
	// TargetPID is the pid namespace of the container that
	// namespace_options.target_id names, for pid mode TARGET.
	TargetPID string
}

// SandboxFiles are host files of the pod bind-mounted into its containers.
// An empty path mounts nothing.
type SandboxFiles struct {
	Hostname   string // -> /etc/hostname
	Hosts      string // -> /etc/hosts
	ResolvConf string // -> /etc/resolv.conf
	// Shm is the pod's /dev/shm tmpfs; required when the container shares
	// the pod's IPC namespace (containers of a pod share /dev/shm).
	Shm string
}

// User is the identity a container's first process starts with: what
// ContainerStatus.user reports.
type User struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
	// SupplementalGroups are all the groups of the process, GID included,
	// sorted and without duplicates (what `id -G` prints).
	SupplementalGroups []uint32 `json:"supplementalGroups"`
	// Name is UID's name in the image's /etc/passwd; empty when it has none.
	Name string `json:"name,omitempty"`
}
