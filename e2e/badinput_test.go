package e2e

// Bad input across the API (issue 8.6): every RPC of RuntimeService and
// ImageService gets malformed requests (missing configs, metadata and IDs,
// unknown IDs, objects in the wrong state, duplicate names, invalid
// resources, bad references) from the Go CRI client against the real
// daemon. Each row names the exact gRPC code, and the journal must not have
// moved: a refused request changes nothing, and the requests CRI makes
// idempotent (stop and remove of an unknown ID) succeed without an event.

import (
	"context"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// badCase is one malformed request and the code it must get.
type badCase struct {
	rpc  string // the method of RuntimeServiceClient or ImageServiceClient
	what string
	want codes.Code
	call func(ctx context.Context) error
}

// drain reads a server stream to its end; the stream's error, or nil.
func drain[T any](s grpc.ServerStreamingClient[T], err error) error {
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// firstOfStream is the error of an endless stream's first message (nil if
// one arrives).
func firstOfStream[T any](s grpc.ServerStreamingClient[T], err error) error {
	if err != nil {
		return err
	}
	_, err = s.Recv()
	return err
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, "lbbad0", 227)
	d := e.start()
	ctx := context.Background()
	if _, err := d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}}); err != nil {
		t.Fatal(err)
	}

	// The world the requests are wrong about: a ready pod with a running,
	// a created and an exited container; a stopped pod.
	podCfg := e.podConfig("bad")
	pr, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		t.Fatal(err)
	}
	pod := pr.GetPodSandboxId()
	running := e.runContainer(pod, podCfg, containerConfig("running", "sleep", "3600"))
	cr, err := d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: containerConfig("created", "true"), SandboxConfig: podCfg})
	if err != nil {
		t.Fatal(err)
	}
	created := cr.GetContainerId()
	exited := e.runContainer(pod, podCfg, containerConfig("exited", "true"))
	e.awaitContainerState(exited, runtimeapi.ContainerState_CONTAINER_EXITED)
	stoppedCfg := e.podConfig("stopped")
	sr, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: stoppedCfg})
	if err != nil {
		t.Fatal(err)
	}
	stopped := sr.GetPodSandboxId()
	if _, err := d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: stopped}); err != nil {
		t.Fatal(err)
	}
	const unknown = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	rt, img := d.rt, d.img
	podWith := func(mut func(*runtimeapi.PodSandboxConfig)) *runtimeapi.RunPodSandboxRequest {
		c := e.podConfig("badpod")
		mut(c)
		return &runtimeapi.RunPodSandboxRequest{Config: c}
	}
	ctrWith := func(mut func(*runtimeapi.ContainerConfig)) *runtimeapi.CreateContainerRequest {
		c := containerConfig("bad", "sleep", "3600")
		mut(c)
		return &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: c, SandboxConfig: podCfg}
	}
	res := func(r *runtimeapi.LinuxContainerResources) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) { c.Linux.Resources = r }
	}
	sec := func(s *runtimeapi.LinuxContainerSecurityContext) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) { c.Linux.SecurityContext = s }
	}
	withLastSeq := func(ctx context.Context, v ...string) context.Context {
		for _, s := range v {
			ctx = metadata.AppendToOutgoingContext(ctx, "logbook-last-seq", s)
		}
		return ctx
	}
	IA, NF, FP, AE, OK := codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.AlreadyExists, codes.OK

	cases := []badCase{
		// Version: the kubelet's API version is informative only.
		{"Version", "an unknown API version", OK, func(ctx context.Context) error {
			_, err := rt.Version(ctx, &runtimeapi.VersionRequest{Version: "v0.0.0-garbage"})
			return err
		}},

		// RunPodSandbox.
		{"RunPodSandbox", "no config", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{})
			return err
		}},
		{"RunPodSandbox", "no metadata", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Metadata = nil }))
			return err
		}},
		{"RunPodSandbox", "no name", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Name = "" }))
			return err
		}},
		{"RunPodSandbox", "no namespace", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Namespace = "" }))
			return err
		}},
		{"RunPodSandbox", "no uid", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Uid = "" }))
			return err
		}},
		{"RunPodSandbox", "a duplicate name", AE, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
			return err
		}},
		{"RunPodSandbox", "an unknown runtime handler", NF, func(ctx context.Context) error {
			r := podWith(func(*runtimeapi.PodSandboxConfig) {})
			r.RuntimeHandler = "no-such-handler"
			_, err := rt.RunPodSandbox(ctx, r)
			return err
		}},
		{"RunPodSandbox", "a hostname longer than the kernel's 64 bytes", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Hostname = strings.Repeat("h", 65) }))
			return err
		}},
		{"RunPodSandbox", "a sysctl of the node (not namespaced)", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Linux.Sysctls = map[string]string{"vm.swappiness": "1"} }))
			return err
		}},
		{"RunPodSandbox", "a relative cgroup parent", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "../../escape" }))
			return err
		}},
		{"RunPodSandbox", "a port mapping to port 0", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) {
				c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 0, HostPort: 8080}}
			}))
			return err
		}},
		{"RunPodSandbox", "a port mapping past 65535", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) {
				c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 70000}}
			}))
			return err
		}},
		{"RunPodSandbox", "a TARGET pid namespace for a pod", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) {
				c.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_TARGET}}
			}))
			return err
		}},
		{"RunPodSandbox", "a DNS server that is no address", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) {
				c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1\nnameserver 6.6.6.6"}}
			}))
			return err
		}},
		{"RunPodSandbox", "a NUL in the hostname", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "a\x00b" }))
			return err
		}},
		{"RunPodSandbox", "a NUL in the log directory", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = "/tmp/a\x00b" }))
			return err
		}},
		{"RunPodSandbox", "a missing localhost seccomp profile", IA, func(ctx context.Context) error {
			_, err := rt.RunPodSandbox(ctx, podWith(func(c *runtimeapi.PodSandboxConfig) {
				c.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{Seccomp: &runtimeapi.SecurityProfile{
					ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/no/such/profile.json"}}
			}))
			return err
		}},

		// StopPodSandbox, RemovePodSandbox: idempotent for unknown IDs.
		{"StopPodSandbox", "no id", IA, func(ctx context.Context) error {
			_, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{})
			return err
		}},
		{"StopPodSandbox", "an unknown id", OK, func(ctx context.Context) error {
			_, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: unknown})
			return err
		}},
		{"StopPodSandbox", "a stopped pod", OK, func(ctx context.Context) error {
			_, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: stopped})
			return err
		}},
		{"RemovePodSandbox", "no id", IA, func(ctx context.Context) error {
			_, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{})
			return err
		}},
		{"RemovePodSandbox", "an unknown id", OK, func(ctx context.Context) error {
			_, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: unknown})
			return err
		}},

		// Reads of pods.
		{"PodSandboxStatus", "no id", IA, func(ctx context.Context) error {
			_, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{})
			return err
		}},
		{"PodSandboxStatus", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: unknown})
			return err
		}},
		{"ListPodSandbox", "a filter of an unknown id and state", OK, func(ctx context.Context) error {
			_, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{Id: unknown,
				State: &runtimeapi.PodSandboxStateValue{State: 42}}})
			return err
		}},
		{"StreamPodSandboxes", "a filter of an unknown id", OK, func(ctx context.Context) error {
			return drain(rt.StreamPodSandboxes(ctx, &runtimeapi.StreamPodSandboxesRequest{Filter: &runtimeapi.PodSandboxFilter{Id: unknown}}))
		}},

		// CreateContainer.
		{"CreateContainer", "no pod id", IA, func(ctx context.Context) error {
			r := ctrWith(func(*runtimeapi.ContainerConfig) {})
			r.PodSandboxId = ""
			_, err := rt.CreateContainer(ctx, r)
			return err
		}},
		{"CreateContainer", "no config", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod})
			return err
		}},
		{"CreateContainer", "no metadata", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Metadata = nil }))
			return err
		}},
		{"CreateContainer", "no image", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Image = nil }))
			return err
		}},
		{"CreateContainer", "an unknown pod", NF, func(ctx context.Context) error {
			r := ctrWith(func(*runtimeapi.ContainerConfig) {})
			r.PodSandboxId = unknown
			_, err := rt.CreateContainer(ctx, r)
			return err
		}},
		{"CreateContainer", "a stopped pod", FP, func(ctx context.Context) error {
			r := ctrWith(func(*runtimeapi.ContainerConfig) {})
			r.PodSandboxId = stopped
			_, err := rt.CreateContainer(ctx, r)
			return err
		}},
		{"CreateContainer", "an image not pulled", NF, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Image.Image = "registry.k8s.io/pause:3.9" }))
			return err
		}},
		{"CreateContainer", "a duplicate name", AE, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "running" }))
			return err
		}},
		{"CreateContainer", "a negative cpu quota", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: -5})))
			return err
		}},
		{"CreateContainer", "a cpu period under 1ms", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{CpuPeriod: 10, CpuQuota: 5000})))
			return err
		}},
		{"CreateContainer", "a negative cpu shares", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{CpuShares: -1})))
			return err
		}},
		{"CreateContainer", "a memory limit of 4 KiB", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 4096})))
			return err
		}},
		{"CreateContainer", "a negative memory limit", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: -2})))
			return err
		}},
		{"CreateContainer", "a malformed cpuset", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{CpusetCpus: "0-abc"})))
			return err
		}},
		{"CreateContainer", "a cpuset of CPUs the node lacks", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{CpusetCpus: "1000-1001"})))
			return err
		}},
		{"CreateContainer", "a malformed memory node set", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{CpusetMems: "x"})))
			return err
		}},
		{"CreateContainer", "a negative oom_score_adj beyond -1000", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{OomScoreAdj: -5000})))
			return err
		}},
		{"CreateContainer", "a hugepage size that is no size", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(res(&runtimeapi.LinuxContainerResources{
				HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "3XB", Limit: 1}}})))
			return err
		}},
		{"CreateContainer", "a log path out of the log directory", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.LogPath = "../../x.log" }))
			return err
		}},
		{"CreateContainer", "a relative mount host path", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Mounts = []*runtimeapi.Mount{{HostPath: "relative/dir", ContainerPath: "/mnt"}}
			}))
			return err
		}},
		{"CreateContainer", "a relative mount container path", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Mounts = []*runtimeapi.Mount{{HostPath: e.dir, ContainerPath: "mnt"}}
			}))
			return err
		}},
		{"CreateContainer", "two mounts on one path", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Mounts = []*runtimeapi.Mount{{HostPath: e.dir, ContainerPath: "/mnt"}, {HostPath: e.root, ContainerPath: "/mnt/"}}
			}))
			return err
		}},
		{"CreateContainer", "an unknown propagation", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Mounts = []*runtimeapi.Mount{{HostPath: e.dir, ContainerPath: "/mnt", Propagation: 7}}
			}))
			return err
		}},
		{"CreateContainer", "a device that does not exist", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Devices = []*runtimeapi.Device{{HostPath: "/dev/no-such-device", ContainerPath: "/dev/x", Permissions: "rw"}}
			}))
			return err
		}},
		{"CreateContainer", "device permissions other than rwm", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Devices = []*runtimeapi.Device{{HostPath: "/dev/null", ContainerPath: "/dev/x", Permissions: "rwz"}}
			}))
			return err
		}},
		{"CreateContainer", "run_as_group without a user", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(sec(&runtimeapi.LinuxContainerSecurityContext{RunAsGroup: &runtimeapi.Int64Value{Value: 5}})))
			return err
		}},
		{"CreateContainer", "a privileged container in an unprivileged pod", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(sec(&runtimeapi.LinuxContainerSecurityContext{Privileged: true})))
			return err
		}},
		{"CreateContainer", "an unknown capability", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(sec(&runtimeapi.LinuxContainerSecurityContext{
				Capabilities: &runtimeapi.Capability{AddCapabilities: []string{"CAP_NO_SUCH_THING"}}})))
			return err
		}},
		{"CreateContainer", "a missing localhost seccomp profile", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(sec(&runtimeapi.LinuxContainerSecurityContext{
				Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/no/such.json"}})))
			return err
		}},
		{"CreateContainer", "an unknown stop signal", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.StopSignal = 999 }))
			return err
		}},
		{"CreateContainer", "a TARGET pid namespace of an unknown container", NF, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(sec(&runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_TARGET, TargetId: unknown}})))
			return err
		}},
		{"CreateContainer", "an environment variable with no name", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Envs = []*runtimeapi.KeyValue{{Key: "", Value: []byte("v")}} }))
			return err
		}},

		{"CreateContainer", "a NUL in the command", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep\x00", "1"} }))
			return err
		}},
		{"CreateContainer", "a NUL in an argument", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Args = []string{"a\x00b"} }))
			return err
		}},
		{"CreateContainer", "an environment variable named with =", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.Envs = []*runtimeapi.KeyValue{{Key: "A=B", Value: []byte("v")}} }))
			return err
		}},
		{"CreateContainer", "a NUL in an environment value", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Envs = []*runtimeapi.KeyValue{{Key: "A", Value: []byte("v\x00w")}}
			}))
			return err
		}},
		{"CreateContainer", "a relative working directory", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) { c.WorkingDir = "relative/dir" }))
			return err
		}},
		{"CreateContainer", "a container path with a NUL", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Mounts = []*runtimeapi.Mount{{HostPath: e.dir, ContainerPath: "/mnt\x00x"}}
			}))
			return err
		}},
		{"CreateContainer", "a relative masked path", IA, func(ctx context.Context) error {
			_, err := rt.CreateContainer(ctx, ctrWith(func(c *runtimeapi.ContainerConfig) {
				c.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{
					MaskedPaths: []string{"relative"}}
			}))
			return err
		}},

		// StartContainer.
		{"StartContainer", "no id", IA, func(ctx context.Context) error {
			_, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{})
			return err
		}},
		{"StartContainer", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: unknown})
			return err
		}},
		{"StartContainer", "a running container", FP, func(ctx context.Context) error {
			_, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: running})
			return err
		}},
		{"StartContainer", "an exited container", FP, func(ctx context.Context) error {
			_, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: exited})
			return err
		}},

		// StopContainer, RemoveContainer: idempotent.
		{"StopContainer", "no id", IA, func(ctx context.Context) error {
			_, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{})
			return err
		}},
		{"StopContainer", "an unknown id", OK, func(ctx context.Context) error {
			_, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: unknown})
			return err
		}},
		{"StopContainer", "an exited container", OK, func(ctx context.Context) error {
			_, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: exited})
			return err
		}},
		{"StopContainer", "a negative timeout", IA, func(ctx context.Context) error {
			_, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: running, Timeout: -1})
			return err
		}},
		{"RemoveContainer", "no id", IA, func(ctx context.Context) error {
			_, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{})
			return err
		}},
		{"RemoveContainer", "an unknown id", OK, func(ctx context.Context) error {
			_, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: unknown})
			return err
		}},

		// Reads of containers.
		{"ListContainers", "a filter of an unknown pod and state", OK, func(ctx context.Context) error {
			_, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
				PodSandboxId: unknown, State: &runtimeapi.ContainerStateValue{State: 42}}})
			return err
		}},
		{"StreamContainers", "a filter of an unknown id", OK, func(ctx context.Context) error {
			return drain(rt.StreamContainers(ctx, &runtimeapi.StreamContainersRequest{Filter: &runtimeapi.ContainerFilter{Id: unknown}}))
		}},
		{"ContainerStatus", "no id", IA, func(ctx context.Context) error {
			_, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{})
			return err
		}},
		{"ContainerStatus", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: unknown})
			return err
		}},

		// UpdateContainerResources.
		{"UpdateContainerResources", "no id", IA, func(ctx context.Context) error {
			_, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{Linux: &runtimeapi.LinuxContainerResources{}})
			return err
		}},
		{"UpdateContainerResources", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: unknown,
				Linux: &runtimeapi.LinuxContainerResources{CpuShares: 512}})
			return err
		}},
		{"UpdateContainerResources", "an exited container", FP, func(ctx context.Context) error {
			_, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: exited,
				Linux: &runtimeapi.LinuxContainerResources{CpuShares: 512}})
			return err
		}},
		{"UpdateContainerResources", "a negative cpu quota", IA, func(ctx context.Context) error {
			_, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: running,
				Linux: &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: -5}})
			return err
		}},
		{"UpdateContainerResources", "a memory limit of 4 KiB", IA, func(ctx context.Context) error {
			_, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: running,
				Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 4096}})
			return err
		}},
		{"UpdateContainerResources", "a malformed cpuset", IA, func(ctx context.Context) error {
			_, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: running,
				Linux: &runtimeapi.LinuxContainerResources{CpusetCpus: "zero"}})
			return err
		}},

		// ReopenContainerLog.
		{"ReopenContainerLog", "no id", IA, func(ctx context.Context) error {
			_, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{})
			return err
		}},
		{"ReopenContainerLog", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: unknown})
			return err
		}},
		{"ReopenContainerLog", "a container never started", FP, func(ctx context.Context) error {
			_, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: created})
			return err
		}},
		{"ReopenContainerLog", "an exited container", FP, func(ctx context.Context) error {
			_, err := rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: exited})
			return err
		}},

		// ExecSync, Exec, Attach, PortForward.
		{"ExecSync", "no id", IA, func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{Cmd: []string{"true"}})
			return err
		}},
		{"ExecSync", "no command", IA, func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: running})
			return err
		}},
		{"ExecSync", "a negative timeout", IA, func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: running, Cmd: []string{"true"}, Timeout: -1})
			return err
		}},
		{"ExecSync", "a NUL in the command", IA, func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: running, Cmd: []string{"echo", "a\x00b"}})
			return err
		}},
		{"Exec", "a NUL in the command", IA, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: running, Cmd: []string{"sh\x00"}, Stdout: true})
			return err
		}},
		{"ExecSync", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: unknown, Cmd: []string{"true"}})
			return err
		}},
		{"ExecSync", "an exited container", FP, func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: exited, Cmd: []string{"true"}})
			return err
		}},
		{"ExecSync", "a container never started", FP, func(ctx context.Context) error {
			_, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: created, Cmd: []string{"true"}})
			return err
		}},
		{"Exec", "no id", IA, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{Cmd: []string{"sh"}, Stdout: true})
			return err
		}},
		{"Exec", "no command", IA, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: running, Stdout: true})
			return err
		}},
		{"Exec", "no stream at all", IA, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: running, Cmd: []string{"sh"}})
			return err
		}},
		{"Exec", "a tty with stderr", IA, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: running, Cmd: []string{"sh"}, Tty: true, Stdout: true, Stderr: true})
			return err
		}},
		{"Exec", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: unknown, Cmd: []string{"sh"}, Stdout: true})
			return err
		}},
		{"Exec", "an exited container", FP, func(ctx context.Context) error {
			_, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: exited, Cmd: []string{"sh"}, Stdout: true})
			return err
		}},
		{"Attach", "no id", IA, func(ctx context.Context) error {
			_, err := rt.Attach(ctx, &runtimeapi.AttachRequest{Stdout: true})
			return err
		}},
		{"Attach", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: unknown, Stdout: true})
			return err
		}},
		{"Attach", "an exited container", FP, func(ctx context.Context) error {
			_, err := rt.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: exited, Stdout: true})
			return err
		}},
		{"PortForward", "no pod id", IA, func(ctx context.Context) error {
			_, err := rt.PortForward(ctx, &runtimeapi.PortForwardRequest{Port: []int32{80}})
			return err
		}},
		{"PortForward", "an unknown pod", NF, func(ctx context.Context) error {
			_, err := rt.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: unknown, Port: []int32{80}})
			return err
		}},
		{"PortForward", "a stopped pod", FP, func(ctx context.Context) error {
			_, err := rt.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: stopped, Port: []int32{80}})
			return err
		}},
		{"PortForward", "a port past 65535", IA, func(ctx context.Context) error {
			_, err := rt.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: pod, Port: []int32{70000}})
			return err
		}},

		// Stats.
		{"ContainerStats", "no id", IA, func(ctx context.Context) error {
			_, err := rt.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{})
			return err
		}},
		{"ContainerStats", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: unknown})
			return err
		}},
		{"ListContainerStats", "a filter of an unknown pod", OK, func(ctx context.Context) error {
			_, err := rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: unknown}})
			return err
		}},
		{"StreamContainerStats", "a filter of an unknown id", OK, func(ctx context.Context) error {
			return drain(rt.StreamContainerStats(ctx, &runtimeapi.StreamContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{Id: unknown}}))
		}},
		{"PodSandboxStats", "no id", IA, func(ctx context.Context) error {
			_, err := rt.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{})
			return err
		}},
		{"PodSandboxStats", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: unknown})
			return err
		}},
		{"ListPodSandboxStats", "a filter of an unknown id", OK, func(ctx context.Context) error {
			_, err := rt.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{Id: unknown}})
			return err
		}},
		{"StreamPodSandboxStats", "a filter of an unknown id", OK, func(ctx context.Context) error {
			return drain(rt.StreamPodSandboxStats(ctx, &runtimeapi.StreamPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{Id: unknown}}))
		}},
		{"ListMetricDescriptors", "an empty request", OK, func(ctx context.Context) error {
			_, err := rt.ListMetricDescriptors(ctx, &runtimeapi.ListMetricDescriptorsRequest{})
			return err
		}},
		{"ListPodSandboxMetrics", "an empty request", OK, func(ctx context.Context) error {
			_, err := rt.ListPodSandboxMetrics(ctx, &runtimeapi.ListPodSandboxMetricsRequest{})
			return err
		}},
		{"StreamPodSandboxMetrics", "an empty request", OK, func(ctx context.Context) error {
			return drain(rt.StreamPodSandboxMetrics(ctx, &runtimeapi.StreamPodSandboxMetricsRequest{}))
		}},

		// The runtime itself.
		{"UpdateRuntimeConfig", "a pod CIDR that does not parse", IA, func(ctx context.Context) error {
			_, err := rt.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: &runtimeapi.RuntimeConfig{
				NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: "10.0.0.0/99"}}})
			return err
		}},
		{"UpdateRuntimeConfig", "no config", IA, func(ctx context.Context) error {
			_, err := rt.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{})
			return err
		}},
		{"Status", "verbose", OK, func(ctx context.Context) error {
			_, err := rt.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
			return err
		}},
		{"RuntimeConfig", "an empty request", OK, func(ctx context.Context) error {
			_, err := rt.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
			return err
		}},
		{"UpdatePodSandboxResources", "no id", IA, func(ctx context.Context) error {
			_, err := rt.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{})
			return err
		}},
		{"UpdatePodSandboxResources", "an unknown id", NF, func(ctx context.Context) error {
			_, err := rt.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: unknown,
				Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512}})
			return err
		}},
		{"UpdatePodSandboxResources", "a negative cpu quota", IA, func(ctx context.Context) error {
			_, err := rt.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: pod,
				Resources: &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: -5}})
			return err
		}},

		// Checkpoints: not offered; the request is still checked first.
		{"CheckpointContainer", "no id", IA, func(ctx context.Context) error {
			_, err := rt.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{})
			return err
		}},
		{"CheckpointContainer", "a running container", codes.Unimplemented, func(ctx context.Context) error {
			_, err := rt.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: running, Location: "/tmp/x.tar"})
			return err
		}},
		{"CheckpointPod", "no id", IA, func(ctx context.Context) error {
			_, err := rt.CheckpointPod(ctx, &runtimeapi.CheckpointPodRequest{})
			return err
		}},
		{"RestorePod", "no path", IA, func(ctx context.Context) error {
			_, err := rt.RestorePod(ctx, &runtimeapi.RestorePodRequest{})
			return err
		}},

		// GetContainerEvents: a resume position that is no number.
		{"GetContainerEvents", "a malformed resume position", IA, func(ctx context.Context) error {
			return firstOfStream(rt.GetContainerEvents(withLastSeq(ctx, "yesterday"), &runtimeapi.GetEventsRequest{}))
		}},
		{"GetContainerEvents", "two resume positions", IA, func(ctx context.Context) error {
			return firstOfStream(rt.GetContainerEvents(withLastSeq(ctx, "1", "2"), &runtimeapi.GetEventsRequest{}))
		}},
		{"GetContainerEvents", "a resume position past the journal", codes.OutOfRange, func(ctx context.Context) error {
			return firstOfStream(rt.GetContainerEvents(withLastSeq(ctx, "999999999"), &runtimeapi.GetEventsRequest{}))
		}},

		// ImageService.
		{"ListImages", "a filter of a malformed reference", OK, func(ctx context.Context) error {
			_, err := img.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "UPPER CASE!"}}})
			return err
		}},
		{"StreamImages", "a filter of an unknown image", OK, func(ctx context.Context) error {
			return drain(img.StreamImages(ctx, &runtimeapi.StreamImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "nosuch:1"}}}))
		}},
		{"ImageStatus", "no image", IA, func(ctx context.Context) error {
			_, err := img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{})
			return err
		}},
		{"ImageStatus", "an empty image", IA, func(ctx context.Context) error {
			_, err := img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{}})
			return err
		}},
		{"ImageStatus", "an unknown image (no image, no error)", OK, func(ctx context.Context) error {
			r, err := img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "nosuch:1"}})
			if err == nil && r.GetImage() != nil {
				return errors.New("an unknown image has a status")
			}
			return err
		}},
		{"PullImage", "no image", IA, func(ctx context.Context) error {
			_, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{})
			return err
		}},
		{"PullImage", "a malformed reference", IA, func(ctx context.Context) error {
			_, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "UPPER/Case:tag!"}})
			return err
		}},
		{"PullImage", "a sha512 digest", IA, func(ctx context.Context) error {
			_, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox@sha512:" + strings.Repeat("ab", 64)}})
			return err
		}},
		{"PullImage", "an image the registry does not have", NF, func(ctx context.Context) error {
			_, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e-test-images/no-such-image:1"}})
			return err
		}},
		{"PullImage", "credentials that are not base64", IA, func(ctx context.Context) error {
			_, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox},
				Auth: &runtimeapi.AuthConfig{Auth: "%%%not-base64%%%"}})
			return err
		}},
		{"RemoveImage", "no image", IA, func(ctx context.Context) error {
			_, err := img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{})
			return err
		}},
		{"RemoveImage", "an unknown image", OK, func(ctx context.Context) error {
			_, err := img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: strings.Repeat("0", 64)}})
			return err
		}},
		{"ImageFsInfo", "an empty request", OK, func(ctx context.Context) error {
			_, err := img.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
			return err
		}},
	}

	// Every RPC of both services is in the table.
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.rpc] = true
	}
	var missing []string
	for _, it := range []reflect.Type{reflect.TypeFor[runtimeapi.RuntimeServiceClient](), reflect.TypeFor[runtimeapi.ImageServiceClient]()} {
		for i := range it.NumMethod() {
			if name := it.Method(i).Name; !covered[name] {
				missing = append(missing, name)
			}
			delete(covered, it.Method(i).Name)
		}
	}
	if len(missing) > 0 || len(covered) > 0 {
		t.Errorf("RPCs without a bad-input case: %v; cases naming no RPC: %v", missing, slices.Collect(maps.Keys(covered)))
	}

	// Nothing runs in the background that journals: the exited container's
	// exit is journaled, the stopped pod is torn down.
	last := e.journalLast()
	for _, c := range cases {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := c.call(cctx)
		cancel()
		if got := grpcCode(err); got != c.want {
			t.Errorf("%s with %s: %v (%v), want %v", c.rpc, c.what, got, err, c.want)
		}
		if got := e.journalSince(last); len(got) > 0 {
			t.Errorf("%s with %s journaled %q", c.rpc, c.what, got)
			last = e.journalLast()
		}
	}
	t.Logf("%d bad-input cases over %d RPCs", len(cases), countRPCs())

	// The world is as it was.
	for id, want := range map[string]runtimeapi.ContainerState{running: runtimeapi.ContainerState_CONTAINER_RUNNING,
		created: runtimeapi.ContainerState_CONTAINER_CREATED, exited: runtimeapi.ContainerState_CONTAINER_EXITED} {
		if st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id}); err != nil || st.GetStatus().GetState() != want {
			t.Errorf("container %s after the bad input: %v, %v; want %v", id, st.GetStatus().GetState(), err, want)
		}
	}
	if l, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err != nil || len(l.GetItems()) != 2 {
		t.Errorf("pods after the bad input: %d, %v; want the two of the test", len(l.GetItems()), err)
	}
}

// countRPCs is the number of methods of both generated client interfaces.
func countRPCs() int {
	return reflect.TypeFor[runtimeapi.RuntimeServiceClient]().NumMethod() + reflect.TypeFor[runtimeapi.ImageServiceClient]().NumMethod()
}
