package oci

import (
	"errors"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestResourceBounds: values the kernel or runc would refuse only once the
// container's cgroup is written are refused by LinuxResources, so nothing
// is journaled or made for them.
func TestResourceBounds(t *testing.T) {
	host := Host{CPUs: "0-3,6", MemoryNodes: "0"}
	for _, tc := range []struct {
		name string
		r    *runtimeapi.LinuxContainerResources
		ok   bool
	}{
		{"period 1ms", &runtimeapi.LinuxContainerResources{CpuPeriod: 1000}, true},
		{"period 1s", &runtimeapi.LinuxContainerResources{CpuPeriod: 1000000}, true},
		{"period under 1ms", &runtimeapi.LinuxContainerResources{CpuPeriod: 999}, false},
		{"period over 1s", &runtimeapi.LinuxContainerResources{CpuPeriod: 1000001}, false},
		{"quota 1ms", &runtimeapi.LinuxContainerResources{CpuQuota: 1000}, true},
		{"quota unlimited", &runtimeapi.LinuxContainerResources{CpuQuota: -1}, true},
		{"quota under 1ms", &runtimeapi.LinuxContainerResources{CpuQuota: 999}, false},
		{"memory 6 MiB", &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: MinMemoryLimit}, true},
		{"memory under 6 MiB", &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: MinMemoryLimit - 1}, false},
		{"cpus of the node", &runtimeapi.LinuxContainerResources{CpusetCpus: "0-2,3,6"}, true},
		{"cpus across two of the node's ranges", &runtimeapi.LinuxContainerResources{CpusetCpus: "2-3"}, true},
		{"a cpu the node lacks", &runtimeapi.LinuxContainerResources{CpusetCpus: "5"}, false},
		{"a range through a missing cpu", &runtimeapi.LinuxContainerResources{CpusetCpus: "3-6"}, false},
		{"a backwards range", &runtimeapi.LinuxContainerResources{CpusetCpus: "3-1"}, false},
		{"a huge cpu", &runtimeapi.LinuxContainerResources{CpusetCpus: "99999999999"}, false},
		{"mems of the node", &runtimeapi.LinuxContainerResources{CpusetMems: "0"}, true},
		{"a memory node the node lacks", &runtimeapi.LinuxContainerResources{CpusetMems: "0-1"}, false},
	} {
		_, err := LinuxResources(tc.r, host, "linux.resources")
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	// A host whose lists are unknown checks the syntax only.
	if _, err := LinuxResources(&runtimeapi.LinuxContainerResources{CpusetCpus: "5-7", CpusetMems: "3"}, Host{}, "r"); err != nil {
		t.Errorf("unknown host lists: %v", err)
	}
}
