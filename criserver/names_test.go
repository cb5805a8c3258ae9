package criserver

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestNames: metadata names with a NUL, or longer than any name, are
// InvalidArgument naming the field, before any component is asked (the
// components are absent here: a request that got past the check would be
// Unimplemented).
func TestNames(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	ctx := context.Background()
	pod := func(name, ns, uid string) error {
		_, err := c.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ns, Uid: uid}}})
		return err
	}
	ctr := func(name string) error {
		_, err := c.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: "p", Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "i"}}})
		return err
	}
	long := strings.Repeat("n", maxNameLen+1)
	assertCode(t, pod("a\x00b", "ns", "u"), codes.InvalidArgument, "config.metadata.name")
	assertCode(t, pod("a", "ns\x00", "u"), codes.InvalidArgument, "config.metadata.namespace")
	assertCode(t, pod("a", "ns", long), codes.InvalidArgument, "config.metadata.uid")
	assertCode(t, ctr("c\x00"), codes.InvalidArgument, "config.metadata.name")
	assertCode(t, ctr(long), codes.InvalidArgument, "config.metadata.name")
	// Path syntax is only a name: it gets past the check.
	assertCode(t, pod("../../x", "a/b", strings.Repeat("u", maxNameLen)), codes.Unimplemented, "RunPodSandbox")
	assertCode(t, ctr("../c"), codes.Unimplemented, "CreateContainer")
}

// TestPortMappings: ports out of 16 bits, a published host port without a
// container port, an unknown protocol are InvalidArgument naming the
// mapping, before the sandbox is made.
func TestPortMappings(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	run := func(pm *runtimeapi.PortMapping) error {
		_, err := c.runtime.RunPodSandbox(context.Background(), &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"}, PortMappings: []*runtimeapi.PortMapping{pm}}})
		return err
	}
	assertCode(t, run(&runtimeapi.PortMapping{HostPort: 70000, ContainerPort: 80}), codes.InvalidArgument, "port_mappings[0].host_port")
	assertCode(t, run(&runtimeapi.PortMapping{HostPort: -1, ContainerPort: 80}), codes.InvalidArgument, "port_mappings[0].host_port")
	assertCode(t, run(&runtimeapi.PortMapping{ContainerPort: 65536}), codes.InvalidArgument, "port_mappings[0].container_port")
	assertCode(t, run(&runtimeapi.PortMapping{HostPort: 8080}), codes.InvalidArgument, "port_mappings[0].container_port")
	assertCode(t, run(&runtimeapi.PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: 9}), codes.InvalidArgument, "port_mappings[0].protocol")
	// A mapping that only documents a port, and a published one, pass.
	assertCode(t, run(&runtimeapi.PortMapping{ContainerPort: 80}), codes.Unimplemented, "RunPodSandbox")
	assertCode(t, run(&runtimeapi.PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: runtimeapi.Protocol_UDP}), codes.Unimplemented, "RunPodSandbox")
}
