package oci

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// BenchmarkContainerSpec: the golden container (Localhost seccomp profile,
// mounts, devices, user from /etc/passwd).
func BenchmarkContainerSpec(b *testing.B) {
	in := goldenContainerInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ContainerSpec(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkContainerSpecRuntimeDefault: the same with moby's default
// seccomp profile, the common case under kubelets that default to it.
func BenchmarkContainerSpecRuntimeDefault(b *testing.B) {
	in := goldenContainerInput()
	in.Config.Linux.SecurityContext.Seccomp = &runtimeapi.SecurityProfile{}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ContainerSpec(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSandboxSpec(b *testing.B) {
	in := goldenSandboxInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SandboxSpec(in); err != nil {
			b.Fatal(err)
		}
	}
}
