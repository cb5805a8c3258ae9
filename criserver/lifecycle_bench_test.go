package criserver

import (
	"context"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// BenchmarkListContainers1000 is ListContainers of 1,000 containers over a
// real unix socket with the daemon's interceptors: what a kubelet's relist
// costs, end to end (projection, CRI conversion, marshalling both ways).
func BenchmarkListContainers1000(b *testing.B) {
	f := &fakeLifecycle{}
	c := serve(b, Deps{Config: testConfig(b), Projection: podStore(b, 998), Sandboxes: f, Containers: f}, discard(), nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
		if err != nil || len(resp.GetContainers()) != 1000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkContainerStatus is one ContainerStatus over the socket.
func BenchmarkContainerStatus(b *testing.B) {
	f := &fakeLifecycle{}
	c := serve(b, Deps{Config: testConfig(b), Projection: podStore(b, 998), Sandboxes: f, Containers: f}, discard(), nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: "cccc0001"}); err != nil {
			b.Fatal(err)
		}
	}
}
