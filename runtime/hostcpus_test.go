package runtime

import (
	"context"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/runtime/oci"
)

// TestDetectHostCPUs: the online CPUs are found, so a cpuset of every CPU
// this process may use passes and one past them is refused.
func TestDetectHostCPUs(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("no runc")
	}
	cg, err := cgroups.Detect()
	if err != nil {
		t.Skip("no cgroups:", err)
	}
	h, err := DetectHost(context.Background(), HostOptions{Cgroups: cg, Driver: cgroups.DriverCgroupfs, Runc: runc})
	if err != nil {
		t.Fatal(err)
	}
	if h.CPUs == "" {
		t.Fatal("no online CPUs detected")
	}
	n := goruntime.NumCPU()
	all := "0-" + strconv.Itoa(n-1)
	if _, err := oci.LinuxResources(&runtimeapi.LinuxContainerResources{CpusetCpus: all}, h, "r"); err != nil {
		t.Errorf("cpuset %s on a node with %s online: %v", all, h.CPUs, err)
	}
	past := strconv.Itoa(n + 4096)
	if _, err := oci.LinuxResources(&runtimeapi.LinuxContainerResources{CpusetCpus: past}, h, "r"); err == nil {
		t.Errorf("cpuset %s accepted on a node with %s online", past, h.CPUs)
	}
}
