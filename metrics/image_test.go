package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/image"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fs {
		out[f.GetName()] = f
	}
	return out
}

func TestImageCollectors(t *testing.T) {
	reg := NewRegistry()
	m, err := NewImage(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.BlobBytes(1000)
	m.BlobBytes(24)
	m.LayerUnpacked(4096, 20*time.Millisecond)
	m.LayerUnpacked(1024, 10*time.Millisecond)
	m.PullDone("ok", 2*time.Second)
	m.PullDone("not_found", 50*time.Millisecond)
	m.GCDone(3, 2, 5*time.Millisecond)
	m.GCDone(1, 0, 5*time.Millisecond)

	fams := gather(t, reg)
	counters := map[string]float64{
		"logbook_image_pull_bytes_total":           1024,
		"logbook_image_unpacked_bytes_total":       5120,
		"logbook_image_gc_removed_blobs_total":     4,
		"logbook_image_gc_removed_snapshots_total": 2,
	}
	for name, want := range counters {
		if v := series(t, fams, name, nil).GetCounter().GetValue(); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	for outcome, want := range map[string]float64{"ok": 1, "not_found": 1, "unavailable": 0} {
		if v := series(t, fams, "logbook_image_pulls_total", map[string]string{"outcome": outcome}).GetCounter().GetValue(); v != want {
			t.Errorf("pulls_total{%s} = %v, want %v", outcome, v, want)
		}
	}
	h := series(t, fams, "logbook_image_pull_duration_seconds", map[string]string{"outcome": "ok"}).GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() != 2 {
		t.Errorf("pull_duration{ok}: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	h = series(t, fams, "logbook_image_layer_unpack_duration_seconds", nil).GetHistogram()
	if h.GetSampleCount() != 2 || math.Abs(h.GetSampleSum()-0.03) > 1e-9 {
		t.Errorf("unpack_duration: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	if c := series(t, fams, "logbook_image_gc_duration_seconds", nil).GetHistogram().GetSampleCount(); c != 2 {
		t.Errorf("gc runs = %d, want 2", c)
	}

	// A second registration on the same registry is refused, not doubled.
	if _, err := NewImage(reg); err == nil {
		t.Error("NewImage registered twice on one registry")
	}
}

// TestImageOutcomesCoverEveryClass: every label image.Outcome can give for
// an error of a class is created up front.
func TestImageOutcomesCoverEveryClass(t *testing.T) {
	classes := []error{nil, image.ErrInvalidReference, image.ErrInvalidAuth, image.ErrInvalidImage,
		image.ErrNotFound, image.ErrUnauthenticated, image.ErrUnavailable, image.ErrDeadlineExceeded,
		image.ErrCanceled, image.ErrStorage}
	for _, c := range classes {
		var err error
		if c != nil {
			err = fmt.Errorf("wrapped: %w", c)
		}
		if o := image.Outcome(err); !slices.Contains(imageOutcomes, o) {
			t.Errorf("outcome %q of %v is not pre-created", o, err)
		}
	}
	if o := image.Outcome(errors.New("unclassified")); slices.Contains(imageOutcomes, o) {
		t.Errorf("the bug label %q should not be pre-created", o)
	}
}
