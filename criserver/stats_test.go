package criserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
)

// fakeStats has n containers and n pods named by their index, and
// remembers the filters it was asked.
type fakeStats struct {
	n        int
	filters  []string
	failWith error
}

func (f *fakeStats) ContainerStats(_ context.Context, id string) (*runtimeapi.ContainerStats, error) {
	if id != "c0" {
		return nil, fmt.Errorf("container %q: %w", id, runtime.ErrNotFound)
	}
	return &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{Id: id}}, nil
}

func (f *fakeStats) ListContainerStats(_ context.Context, flt *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	f.filters = append(f.filters, flt.String())
	if f.failWith != nil {
		return nil, f.failWith
	}
	out := make([]*runtimeapi.ContainerStats, f.n)
	for i := range out {
		out[i] = &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{Id: "c" + strconv.Itoa(i)}}
	}
	return out, nil
}

func (f *fakeStats) PodSandboxStats(_ context.Context, id string) (*runtimeapi.PodSandboxStats, error) {
	if id != "p0" {
		return nil, fmt.Errorf("pod sandbox %q: %w", id, runtime.ErrNotFound)
	}
	return &runtimeapi.PodSandboxStats{Attributes: &runtimeapi.PodSandboxAttributes{Id: id}}, nil
}

func (f *fakeStats) ListPodSandboxStats(_ context.Context, flt *runtimeapi.PodSandboxStatsFilter) ([]*runtimeapi.PodSandboxStats, error) {
	f.filters = append(f.filters, flt.String())
	out := make([]*runtimeapi.PodSandboxStats, f.n)
	for i := range out {
		out[i] = &runtimeapi.PodSandboxStats{Attributes: &runtimeapi.PodSandboxAttributes{Id: "p" + strconv.Itoa(i)}}
	}
	return out, nil
}

func (f *fakeStats) MetricDescriptors() []*runtimeapi.MetricDescriptor {
	return []*runtimeapi.MetricDescriptor{{Name: "container_cpu_usage_seconds_total", Help: "h", LabelKeys: []string{"id"}}}
}

func (f *fakeStats) PodSandboxMetrics(context.Context) ([]*runtimeapi.PodSandboxMetrics, error) {
	out := make([]*runtimeapi.PodSandboxMetrics, f.n)
	for i := range out {
		out[i] = &runtimeapi.PodSandboxMetrics{PodSandboxId: "p" + strconv.Itoa(i)}
	}
	return out, nil
}

func TestStatsAdapters(t *testing.T) {
	f := &fakeStats{n: 2*statsPerMessage + 5}
	c := serve(t, Deps{Config: testConfig(t), Stats: f}, discard(), nil)
	ctx := context.Background()

	cs, err := c.runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: "c0"})
	if err != nil || cs.GetStats().GetAttributes().GetId() != "c0" {
		t.Errorf("ContainerStats = %v, %v", cs, err)
	}
	_, err = c.runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: "nope"})
	assertCode(t, err, codes.NotFound, `container "nope"`)
	_, err = c.runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{})
	assertCode(t, err, codes.InvalidArgument, "container_id")
	ps, err := c.runtime.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: "p0"})
	if err != nil || ps.GetStats().GetAttributes().GetId() != "p0" {
		t.Errorf("PodSandboxStats = %v, %v", ps, err)
	}
	_, err = c.runtime.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: "nope"})
	assertCode(t, err, codes.NotFound, `pod sandbox "nope"`)

	lc, err := c.runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: "p1"}})
	if err != nil || len(lc.GetStats()) != f.n {
		t.Errorf("ListContainerStats: %d stats, %v", len(lc.GetStats()), err)
	}
	if f.filters[len(f.filters)-1] != (&runtimeapi.ContainerStatsFilter{PodSandboxId: "p1"}).String() {
		t.Errorf("the filter reached the collector as %q", f.filters[len(f.filters)-1])
	}
	lp, err := c.runtime.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{})
	if err != nil || len(lp.GetStats()) != f.n {
		t.Errorf("ListPodSandboxStats: %d stats, %v", len(lp.GetStats()), err)
	}
	md, err := c.runtime.ListMetricDescriptors(ctx, &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil || len(md.GetDescriptors()) != 1 {
		t.Errorf("ListMetricDescriptors = %v, %v", md, err)
	}
	lm, err := c.runtime.ListPodSandboxMetrics(ctx, &runtimeapi.ListPodSandboxMetricsRequest{})
	if err != nil || len(lm.GetPodMetrics()) != f.n {
		t.Errorf("ListPodSandboxMetrics: %d, %v", len(lm.GetPodMetrics()), err)
	}

	// The streams: the same lists in pages of statsPerMessage.
	pages := func(recv func() (int, error)) []int {
		t.Helper()
		var sizes []int
		for {
			n, err := recv()
			if errors.Is(err, io.EOF) {
				return sizes
			}
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	want := fmt.Sprint([]int{statsPerMessage, statsPerMessage, 5})
	sc, err := c.runtime.StreamContainerStats(ctx, &runtimeapi.StreamContainerStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(pages(func() (int, error) { m, err := sc.Recv(); return len(m.GetContainerStats()), err })); got != want {
		t.Errorf("StreamContainerStats pages %s, want %s", got, want)
	}
	sp, err := c.runtime.StreamPodSandboxStats(ctx, &runtimeapi.StreamPodSandboxStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(pages(func() (int, error) { m, err := sp.Recv(); return len(m.GetPodSandboxStats()), err })); got != want {
		t.Errorf("StreamPodSandboxStats pages %s, want %s", got, want)
	}
	sm, err := c.runtime.StreamPodSandboxMetrics(ctx, &runtimeapi.StreamPodSandboxMetricsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(pages(func() (int, error) { m, err := sm.Recv(); return len(m.GetPodSandboxMetrics()), err })); got != want {
		t.Errorf("StreamPodSandboxMetrics pages %s, want %s", got, want)
	}

	// A failing collector's error reaches the client with its code.
	f.failWith = fmt.Errorf("boom: %w", context.DeadlineExceeded)
	_, err = c.runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
	assertCode(t, err, codes.DeadlineExceeded, "boom")
}

// Without a collector the calls are Unimplemented, and critest skips its
// metrics specs on exactly that answer.
func TestStatsUnimplemented(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	_, err := c.runtime.ListMetricDescriptors(context.Background(), &runtimeapi.ListMetricDescriptorsRequest{})
	assertCode(t, err, codes.Unimplemented, "ListMetricDescriptors")
	_, err = c.runtime.ListContainerStats(context.Background(), &runtimeapi.ListContainerStatsRequest{})
	assertCode(t, err, codes.Unimplemented, "ListContainerStats")
}
