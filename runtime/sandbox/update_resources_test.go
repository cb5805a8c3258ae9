package sandbox_test

import (
	"context"
	"errors"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime/container/containertest"
	"github.com/logbook-cri/logbook/runtime/oci"
)

// TestUpdatePodSandboxResourcesRefusesInvalid: resources no container
// could have are InvalidArgument and journal nothing; valid ones are
// recorded.
func TestUpdatePodSandboxResourcesRefusesInvalid(t *testing.T) {
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("resize"))
	seq := e.Store.Seq()
	for _, r := range []*runtimeapi.LinuxContainerResources{
		{CpuPeriod: 100000, CpuQuota: -5},
		{MemoryLimitInBytes: 4096},
		{CpusetCpus: "x"},
	} {
		if err := e.Sandboxes.UpdatePodSandboxResources(ctx, sb, nil, r); !errors.Is(err, oci.ErrInvalid) {
			t.Errorf("resources %v: %v, want invalid", r, err)
		}
		if err := e.Sandboxes.UpdatePodSandboxResources(ctx, sb, r, nil); err == nil {
			t.Errorf("overhead %v accepted", r)
		}
	}
	if e.Store.Seq() != seq {
		t.Errorf("refused updates journaled %d events", e.Store.Seq()-seq)
	}
	if err := e.Sandboxes.UpdatePodSandboxResources(ctx, sb, nil, &runtimeapi.LinuxContainerResources{CpuShares: 512}); err != nil {
		t.Fatal(err)
	}
	if e.Store.Seq() != seq+1 {
		t.Errorf("a valid update journaled %d events", e.Store.Seq()-seq)
	}
}
