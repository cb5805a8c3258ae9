package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime/stats"
)

// Stats answers the stats and metrics calls from the containers' cgroups,
// writable layers and the pods' namespaces. An unknown ID is
// runtime.ErrNotFound (NotFound). *stats.Collector implements it.
type Stats interface {
	ContainerStats(ctx context.Context, id string) (*runtimeapi.ContainerStats, error)
	ListContainerStats(ctx context.Context, f *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error)
	PodSandboxStats(ctx context.Context, id string) (*runtimeapi.PodSandboxStats, error)
	ListPodSandboxStats(ctx context.Context, f *runtimeapi.PodSandboxStatsFilter) ([]*runtimeapi.PodSandboxStats, error)
	// MetricDescriptors describes every metric PodSandboxMetrics returns.
	MetricDescriptors() []*runtimeapi.MetricDescriptor
	PodSandboxMetrics(ctx context.Context) ([]*runtimeapi.PodSandboxMetrics, error)
}

var _ Stats = (*stats.Collector)(nil)

// statsPerMessage bounds one message of the Stream* stats calls. A
// container's stats are a few hundred bytes and a pod's metrics a few
// tens of kilobytes, so 100 stay far below the 16 MiB limit.
const statsPerMessage = 100

// sendPages sends items in messages of at most per items each; an empty
// list is a stream with no message.
func sendPages[T any](items []T, per int, send func([]T) error) error {
	for len(items) > 0 {
		n := min(len(items), per)
		if err := send(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}
