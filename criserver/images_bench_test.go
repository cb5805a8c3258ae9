package criserver

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/metrics"
)

// benchImages is the number of images the image read benchmarks list.
const benchImages = 200

// benchImageClients serves the image service over a projection of
// benchImages images, with the daemon's interceptors and metrics.
func benchImageClients(b *testing.B) clients {
	b.Helper()
	cri, err := metrics.NewCRI(metrics.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	return serve(b, Deps{Config: testConfig(b), Projection: seedImages(b, benchImages), Images: &fakeImages{pinned: imageIDn(1)}},
		discard(), cri)
}

// latencies times each call of op and reports the median and the 99th
// percentile beside the mean.
func latencies(b *testing.B, op func(i int) error) {
	b.Helper()
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkImageStatus200: ImageStatus by tag over the socket with 200
// images present, a different image each call.
func BenchmarkImageStatus200(b *testing.B) {
	c := benchImageClients(b)
	ctx := context.Background()
	refs := make([]string, benchImages)
	for i := range refs {
		refs[i] = fmt.Sprintf("registry.test/img-%d:1", i)
	}
	latencies(b, func(i int) error {
		resp, err := c.image.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: refs[i%benchImages]}})
		if err == nil && resp.GetImage() == nil {
			err = fmt.Errorf("no status for %s", refs[i%benchImages])
		}
		return err
	})
}

// BenchmarkListImages200: the whole list of 200 images over the socket.
func BenchmarkListImages200(b *testing.B) {
	c := benchImageClients(b)
	ctx := context.Background()
	latencies(b, func(int) error {
		resp, err := c.image.ListImages(ctx, &runtimeapi.ListImagesRequest{})
		if err == nil && len(resp.GetImages()) != benchImages {
			err = fmt.Errorf("%d images listed", len(resp.GetImages()))
		}
		return err
	})
}
