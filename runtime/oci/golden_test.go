package oci

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// updateGolden names the environment variable that rewrites the golden
// files: LOGBOOK_UPDATE_GOLDEN=1 go test ./runtime/oci -run Golden
const updateGolden = "LOGBOOK_UPDATE_GOLDEN"

// goldenPod is a pod as a kubelet sends it: a Burstable pod with its own
// network, a shared PID namespace, sysctls and DNS settings.
func goldenPod() *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "web-7d4b9c", Uid: "0f6a8e3c-1111-4a0e-9d2e-2b5f3c4d5e6f", Namespace: "shop", Attempt: 0},
		Hostname:     "web-7d4b9c",
		LogDirectory: "/var/log/pods/shop_web-7d4b9c_0f6a8e3c-1111-4a0e-9d2e-2b5f3c4d5e6f",
		DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"shop.svc.cluster.local"}, Options: []string{"ndots:5"}},
		Labels:       map[string]string{"app": "web"},
		Annotations:  map[string]string{"kubernetes.io/config.source": "api"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: "/kubepods/burstable/pod0f6a8e3c-1111-4a0e-9d2e-2b5f3c4d5e6f",
			Sysctls:      map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "kernel.shm_rmid_forced": "1"},
			Overhead:     &runtimeapi.LinuxContainerResources{CpuShares: 25, MemoryLimitInBytes: 64 << 20},
			Resources:    &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 150000, CpuShares: 1536, MemoryLimitInBytes: 512 << 20},
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions:   &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_POD, Ipc: runtimeapi.NamespaceMode_POD},
				RunAsUser:          i64(65535),
				RunAsGroup:         i64(65535),
				SupplementalGroups: []int64{2000},
			},
		},
	}
}

func goldenHost() Host {
	return Host{
		SwapAccounting:          true,
		RecursiveReadOnlyMounts: true,
		RestrictOOMScoreAdj:     true,
		MinOOMScoreAdj:          0,
		Arch:                    "amd64",
		KernelRelease:           "6.18.44-fc",
		NodeHostname:            "node-1",
	}
}

func goldenSandboxInput() SandboxInput {
	const id = "1f2e3d4c5b6a79880f1e2d3c4b5a6978"
	return SandboxInput{
		ID:        id,
		Config:    goldenPod(),
		Host:      goldenHost(),
		Rootfs:    "/var/lib/logbook/pause/rootfs",
		NetNSPath: "/run/logbook/netns/cni-4c8d2a1e",
		ShmPath:   "/run/logbook/sandboxes/" + id + "/shm",
	}
}

func goldenContainerInput() ContainerInput {
	sb := goldenSandboxInput()
	const id = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	ctr := &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: "nginx", Attempt: 1},
		Image:      &runtimeapi.ImageSpec{Image: "sha256:1b2c"},
		Args:       []string{"-g", "daemon off;"},
		WorkingDir: "",
		Envs: []*runtimeapi.KeyValue{
			{Key: "KUBERNETES_SERVICE_HOST", Value: []byte("10.96.0.1")},
			{Key: "NGINX_VERSION", Value: []byte("1.14.2-override")},
		},
		Mounts: []*runtimeapi.Mount{
			{ContainerPath: "/var/run/secrets/kubernetes.io/serviceaccount", HostPath: "/var/lib/kubelet/pods/0f6a8e3c/volumes/kubernetes.io~projected/kube-api-access", Readonly: true, RecursiveReadOnly: true},
			{ContainerPath: "/etc/hosts", HostPath: "/var/lib/kubelet/pods/0f6a8e3c/etc-hosts"},
			{ContainerPath: "/dev/termination-log", HostPath: "/var/lib/kubelet/pods/0f6a8e3c/containers/nginx/8a2b"},
			{ContainerPath: "/usr/share/nginx/html", HostPath: "/data/html", Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER, Readonly: true, MountOptions: []string{"nodev"}},
		},
		Devices:    []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rw"}},
		Labels:     map[string]string{"io.kubernetes.container.name": "nginx"},
		LogPath:    "nginx/1.log",
		StopSignal: runtimeapi.Signal_SIGNAL_SIGQUIT,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources: &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 512, MemoryLimitInBytes: 256 << 20, OomScoreAdj: 969},
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				Capabilities:       &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN"}, DropCapabilities: []string{"MKNOD", "NET_RAW"}},
				NamespaceOptions:   &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_POD, Ipc: runtimeapi.NamespaceMode_POD},
				RunAsUser:          i64(33),
				SupplementalGroups: []int64{2000},
				ReadonlyRootfs:     true,
				NoNewPrivs:         true,
				Seccomp:            &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/var/lib/kubelet/seccomp/block-chmod.json"},
			},
		},
	}
	return ContainerInput{
		ID:        id,
		SandboxID: sb.ID,
		Config:    ctr,
		Sandbox:   sb.Config,
		Host:      sb.Host,
		Rootfs:    "/var/lib/logbook/containers/" + id + "/rootfs",
		Image: Image{
			Name: "registry.k8s.io/e2e-test-images/nginx:1.14-2",
			Config: ocispec.ImageConfig{
				Entrypoint: []string{"nginx"},
				Cmd:        []string{"-g", "daemon off;", "-c", "/etc/nginx/nginx.conf"},
				Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.14.2"},
				WorkingDir: "/usr/share/nginx",
				StopSignal: "SIGQUIT",
			},
			Passwd: []byte(testPasswd),
			Group:  []byte(testGroup + "web:x:2001:www-data\n"),
		},
		Namespaces: SandboxNamespaces{
			Network: sb.NetNSPath,
			IPC:     "/proc/31337/ns/ipc",
			UTS:     "/proc/31337/ns/uts",
			PID:     "/proc/31337/ns/pid",
		},
		Files: SandboxFiles{
			Hostname:   "/var/lib/logbook/sandboxes/" + sb.ID + "/hostname",
			Hosts:      "/var/lib/logbook/sandboxes/" + sb.ID + "/hosts",
			ResolvConf: "/var/lib/logbook/sandboxes/" + sb.ID + "/resolv.conf",
			Shm:        sb.ShmPath,
		},
		MountSources: map[string]string{"/data/html": "/srv/data/html"},
		Devices:      map[string][]HostDevice{"/dev/fuse": {{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: 0o666}}},
		SeccompProfiles: map[string][]byte{
			"/var/lib/kubelet/seccomp/block-chmod.json": []byte(blockChmodProfile),
		},
	}
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	file := filepath.Join("testdata", name)
	if os.Getenv(updateGolden) != "" {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (regenerate with %s=1)", err, updateGolden)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the generated spec (regenerate with %s=1 after checking the change):\n%s", file, updateGolden, got)
	}
}

func TestGoldenSandboxSpec(t *testing.T) {
	checkGolden(t, "sandbox.golden.json", mustSandbox(t, goldenSandboxInput()))
}

func TestGoldenContainerSpec(t *testing.T) {
	s, u := mustContainer(t, goldenContainerInput())
	checkGolden(t, "container.golden.json", struct {
		Spec any  `json:"spec"`
		User User `json:"user"`
	}{s, u})
}
