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

// TestPodFieldsAndArgv: a log directory that is no absolute path, DNS
// servers that are no addresses, searches and options that are not one
// word, NULs in a hostname or a command: InvalidArgument naming the field.
func TestPodFieldsAndArgv(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	ctx := context.Background()
	run := func(mut func(*runtimeapi.PodSandboxConfig)) error {
		cfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"}}
		mut(cfg)
		_, err := c.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
		return err
	}
	assertCode(t, run(func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = "relative" }), codes.InvalidArgument, "config.log_directory")
	assertCode(t, run(func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = "/a\x00b" }), codes.InvalidArgument, "config.log_directory")
	assertCode(t, run(func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "a\x00" }), codes.InvalidArgument, "config.hostname")
	assertCode(t, run(func(c *runtimeapi.PodSandboxConfig) {
		c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"10.0.0.10", "1.1.1.1\nnameserver 6.6.6.6"}}
	}), codes.InvalidArgument, "config.dns_config.servers[1]")
	assertCode(t, run(func(c *runtimeapi.PodSandboxConfig) {
		c.DnsConfig = &runtimeapi.DNSConfig{Searches: []string{"svc.cluster.local", "a b"}}
	}), codes.InvalidArgument, "config.dns_config.searches[1]")
	assertCode(t, run(func(c *runtimeapi.PodSandboxConfig) {
		c.DnsConfig = &runtimeapi.DNSConfig{Options: []string{"ndots:5\noptions x"}}
	}), codes.InvalidArgument, "config.dns_config.options[0]")
	assertCode(t, run(func(c *runtimeapi.PodSandboxConfig) {
		c.LogDirectory, c.Hostname = "/var/log/pods/p", "web"
		c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"10.0.0.10", "fd00::a"}, Searches: []string{"ns.svc.cluster.local"}, Options: []string{"ndots:5"}}
	}), codes.Unimplemented, "RunPodSandbox")

	_, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"echo", "a\x00"}})
	assertCode(t, err, codes.InvalidArgument, "cmd[1]")
	_, err = c.runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"sh\x00"}, Stdout: true})
	assertCode(t, err, codes.InvalidArgument, "cmd[0]")
}
