package oci

import (
	"encoding/json"
	"errors"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Test fixtures: a pod and a busybox-like image as critest makes them.

const (
	testSandboxID   = "5b1c0fd7a2e34d1f9c8a0b1c2d3e4f50"
	testContainerID = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	testPasswd      = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
`
	testGroup = `root:x:0:
wheel:x:10:root
www-data:x:33:
default-user:x:1000:
group-defined-in-image:x:50000:default-user
nogroup:x:65534:
`
)

func testHost() Host {
	return Host{
		SwapAccounting:          true,
		RecursiveReadOnlyMounts: true,
		Arch:                    "amd64",
		KernelRelease:           "6.18.44",
		NodeHostname:            "node-1",
	}
}

func testPodConfig() *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "pod", Uid: "uid-1", Namespace: "ns", Attempt: 2},
		Hostname: "pod-host",
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
		},
	}
}

func testSandboxInput() SandboxInput {
	return SandboxInput{
		ID:        testSandboxID,
		Config:    testPodConfig(),
		Host:      testHost(),
		Rootfs:    "/var/lib/logbook/pause/rootfs",
		NetNSPath: "/run/logbook/netns/cni-1",
		ShmPath:   "/run/logbook/sandboxes/" + testSandboxID + "/shm",
	}
}

func testContainerConfig() *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "ctr", Attempt: 1},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  []string{"top"},
		Linux: &runtimeapi.LinuxContainerConfig{
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
		},
	}
}

func testContainerInput() ContainerInput {
	return ContainerInput{
		ID:        testContainerID,
		SandboxID: testSandboxID,
		Config:    testContainerConfig(),
		Sandbox:   testPodConfig(),
		Host:      testHost(),
		Rootfs:    "/var/lib/logbook/containers/" + testContainerID + "/rootfs",
		Image: Image{
			Name:   "registry.k8s.io/e2e-test-images/busybox:1.29-2",
			Config: ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}},
			Passwd: []byte(testPasswd),
			Group:  []byte(testGroup),
		},
		Namespaces: SandboxNamespaces{
			Network: "/run/logbook/netns/cni-1",
			IPC:     "/proc/4242/ns/ipc",
			UTS:     "/proc/4242/ns/uts",
			PID:     "/proc/4242/ns/pid",
		},
		Files: SandboxFiles{
			Hostname:   "/var/lib/logbook/sandboxes/" + testSandboxID + "/hostname",
			Hosts:      "/var/lib/logbook/sandboxes/" + testSandboxID + "/hosts",
			ResolvConf: "/var/lib/logbook/sandboxes/" + testSandboxID + "/resolv.conf",
			Shm:        "/run/logbook/sandboxes/" + testSandboxID + "/shm",
		},
	}
}

// sc returns the container's security context, creating it if needed.
func sc(in *ContainerInput) *runtimeapi.LinuxContainerSecurityContext {
	if in.Config.Linux == nil {
		in.Config.Linux = &runtimeapi.LinuxContainerConfig{}
	}
	if in.Config.Linux.SecurityContext == nil {
		in.Config.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{}
	}
	return in.Config.Linux.SecurityContext
}

func podSC(p *runtimeapi.PodSandboxConfig) *runtimeapi.LinuxSandboxSecurityContext {
	if p.Linux == nil {
		p.Linux = &runtimeapi.LinuxPodSandboxConfig{}
	}
	if p.Linux.SecurityContext == nil {
		p.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{}
	}
	return p.Linux.SecurityContext
}

func mustContainer(t *testing.T, in ContainerInput) (*specs.Spec, User) {
	t.Helper()
	s, u, err := ContainerSpec(in)
	if err != nil {
		t.Fatalf("ContainerSpec: %v", err)
	}
	return s, u
}

func mustSandbox(t *testing.T, in SandboxInput) *specs.Spec {
	t.Helper()
	s, err := SandboxSpec(in)
	if err != nil {
		t.Fatalf("SandboxSpec: %v", err)
	}
	return s
}

// wantErr checks that err wraps want (nil: no error).
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error = %v, want one wrapping %v", err, want)
	}
}

func findMount(s *specs.Spec, dst string) (specs.Mount, bool) {
	for _, m := range s.Mounts {
		if m.Destination == dst {
			return m, true
		}
	}
	return specs.Mount{}, false
}

func mountDestinations(s *specs.Spec) []string {
	var d []string
	for _, m := range s.Mounts {
		d = append(d, m.Destination)
	}
	return d
}

func jsonEqual(t *testing.T, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("got  %s\nwant %s", g, w)
	}
}

func i64(v int64) *runtimeapi.Int64Value { return &runtimeapi.Int64Value{Value: v} }

func u64p(v uint64) *uint64 { return &v }
func i64p(v int64) *int64   { return &v }
