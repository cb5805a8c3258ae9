package metrics

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/journal"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestSummarize(t *testing.T) {
	cases := []struct {
		name  string
		stats journal.Stats
		want  journalSummary
	}{
		{"empty journal", journal.Stats{First: 1, Last: 0}, journalSummary{first: 1}},
		{"no subscribers", journal.Stats{First: 5, Last: 14, SizeBytes: 4096, SnapshotSeqs: []uint64{4}},
			journalSummary{sizeBytes: 4096, first: 5, last: 14, retained: 10, snapshots: 1}},
		{"caught up", journal.Stats{First: 1, Last: 10, Cursors: []uint64{11, 11}},
			journalSummary{first: 1, last: 10, retained: 10, subscribers: 2}},
		{"behind", journal.Stats{First: 1, Last: 100, Cursors: []uint64{101, 91, 1}},
			journalSummary{first: 1, last: 100, retained: 100, subscribers: 3, maxLag: 100, sumLag: 110}},
		{"cursor ahead", journal.Stats{First: 1, Last: 3, Cursors: []uint64{7}},
			journalSummary{first: 1, last: 3, retained: 3, subscribers: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(tc.stats); got != tc.want {
				t.Errorf("summarize(%+v) = %+v, want %+v", tc.stats, got, tc.want)
			}
		})
	}
}

type fakeStats struct{ stats journal.Stats }

func (f *fakeStats) Stats() journal.Stats { return f.stats }

// TestScrape feeds every collector, scrapes the real HTTP endpoint and parses
// the exposition.
func TestScrape(t *testing.T) {
	reg := NewRegistry()
	cri, err := NewCRI(reg)
	if err != nil {
		t.Fatal(err)
	}
	j, err := NewJournal(reg)
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeStats{journal.Stats{First: 3, Last: 42, SizeBytes: 1 << 20, SnapshotSeqs: []uint64{2, 30}, Cursors: []uint64{43, 40}}}
	if err := RegisterJournalStats(reg, src); err != nil {
		t.Fatal(err)
	}
	srv, err := Serve("127.0.0.1:0", reg, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})

	const version = "runtime.v1.RuntimeService/Version"
	cri.ObserveRequest(version, "OK", 2*time.Millisecond)
	cri.ObserveRequest(version, "OK", 4*time.Millisecond)
	cri.ObserveRequest("runtime.v1.RuntimeService/Status", "Unavailable", time.Second)
	j.Committed(5, 2*time.Millisecond)
	j.Committed(1, time.Millisecond)
	j.Compacted(10)
	j.Compacted(0)

	fams := scrape(t, "http://"+srv.Addr().String()+Path)

	requests := series(t, fams, "logbook_cri_requests_total", map[string]string{"method": version, "code": "OK"})
	if v := requests.GetCounter().GetValue(); v != 2 {
		t.Errorf("requests_total{Version,OK} = %v, want 2", v)
	}
	requests = series(t, fams, "logbook_cri_requests_total", map[string]string{"method": "runtime.v1.RuntimeService/Status", "code": "Unavailable"})
	if v := requests.GetCounter().GetValue(); v != 1 {
		t.Errorf("requests_total{Status,Unavailable} = %v, want 1", v)
	}
	h := series(t, fams, "logbook_cri_request_duration_seconds", map[string]string{"method": version, "code": "OK"}).GetHistogram()
	if h.GetSampleCount() != 2 || math.Abs(h.GetSampleSum()-0.006) > 1e-9 {
		t.Errorf("duration{Version,OK}: count %d sum %v, want 2 and 0.006", h.GetSampleCount(), h.GetSampleSum())
	}

	h = series(t, fams, "logbook_journal_append_duration_seconds", nil).GetHistogram()
	if h.GetSampleCount() != 2 || math.Abs(h.GetSampleSum()-0.003) > 1e-9 {
		t.Errorf("append_duration: count %d sum %v, want 2 and 0.003", h.GetSampleCount(), h.GetSampleSum())
	}
	h = series(t, fams, "logbook_journal_append_batch_events", nil).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 6 {
		t.Errorf("batch_events: count %d sum %v, want 2 and 6", h.GetSampleCount(), h.GetSampleSum())
	}
	counters := map[string]float64{
		"logbook_journal_compactions_total":      2,
		"logbook_journal_compacted_events_total": 10,
	}
	for name, want := range counters {
		if v := series(t, fams, name, nil).GetCounter().GetValue(); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	gauges := map[string]float64{
		"logbook_journal_size_bytes":                1 << 20,
		"logbook_journal_first_sequence":            3,
		"logbook_journal_last_sequence":             42,
		"logbook_journal_retained_events":           40,
		"logbook_journal_snapshots":                 2,
		"logbook_journal_subscribers":               2,
		"logbook_journal_subscriber_max_lag_events": 3,
		"logbook_journal_subscriber_lag_events":     3,
	}
	for name, want := range gauges {
		if v := series(t, fams, name, nil).GetGauge().GetValue(); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("runtime series %s missing", name)
		}
	}

	// The collector reads at scrape time: a change shows on the next scrape.
	src.stats.Last = 50
	fams = scrape(t, "http://"+srv.Addr().String()+Path)
	if v := series(t, fams, "logbook_journal_subscriber_max_lag_events", nil).GetGauge().GetValue(); v != 11 {
		t.Errorf("max lag after appends = %v, want 11", v)
	}
}

// TestOwnRegistry: nothing lands on the client library's default registry,
// and registering twice on one registry is an error, not a panic.
func TestOwnRegistry(t *testing.T) {
	reg := NewRegistry()
	if _, err := NewCRI(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewJournal(reg); err != nil {
		t.Fatal(err)
	}
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if len(f.GetName()) >= 8 && f.GetName()[:8] == "logbook_" {
			t.Errorf("%s is on the default registry", f.GetName())
		}
	}
	if _, err := NewCRI(reg); err == nil {
		t.Error("second NewCRI on the same registry succeeded")
	}
	if _, err := NewJournal(reg); err == nil {
		t.Error("second NewJournal on the same registry succeeded")
	}
}

func TestServeErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, err := Serve("127.0.0.1:0", reg, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	// The port is taken: a second server must fail at once.
	if other, err := Serve(srv.Addr().String(), reg, slog.New(slog.DiscardHandler), false); err == nil {
		other.Close(context.Background())
		t.Error("Serve on a busy address succeeded")
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Closed: nobody answers any more.
	if resp, err := http.Get("http://" + srv.Addr().String() + Path); err == nil {
		resp.Body.Close()
		t.Error("the endpoint still answers after Close")
	}
}

// TestServeProfiling: the pprof profiles are served only when asked for.
func TestServeProfiling(t *testing.T) {
	for _, on := range []bool{false, true} {
		srv, err := Serve("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.DiscardHandler), on)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + srv.Addr().String() + "/debug/pprof/heap?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served := resp.StatusCode == http.StatusOK && strings.Contains(string(body), "heap profile")
		if served != on {
			t.Errorf("profiling %v: GET /debug/pprof/heap: %s, profile served %v", on, resp.Status, served)
		}
		srv.Close(context.Background())
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

// series finds the one metric of family name whose labels include want.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("series %s missing", name)
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
	}
	t.Fatalf("no %s with labels %v", name, want)
	return nil
}
