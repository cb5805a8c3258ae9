package main

import (
	"strings"
	"testing"
)

func TestBoundsCheck(t *testing.T) {
	b := bounds{rssFactor: 1.5, rssSlackKiB: 1024, goroutines: 10, fds: 10}
	before := sample{rssKiB: 20000, goroutines: 50, fds: 30}
	cases := []struct {
		name  string
		after sample
		want  []string // substrings, one per problem
	}{
		{"equal", before, nil},
		{"at the bounds", sample{rssKiB: 31024, goroutines: 60, fds: 40}, nil},
		{"rss past", sample{rssKiB: 31025, goroutines: 50, fds: 30}, []string{"RSS grew"}},
		{"goroutines past", sample{rssKiB: 20000, goroutines: 61, fds: 30}, []string{"goroutines grew from 50 to 61"}},
		{"fds past", sample{rssKiB: 20000, goroutines: 50, fds: 41}, []string{"file descriptors grew"}},
		{"all", sample{rssKiB: 90000, goroutines: 500, fds: 500}, []string{"RSS", "goroutines", "file descriptors"}},
		{"shrinking", sample{rssKiB: 10000, goroutines: 40, fds: 20}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := b.check(before, tc.after)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d problems", got, len(tc.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d: %q lacks %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	rss, threads := parseStatus([]byte("Name:\tlogbookd\nVmPeak:\t  900 kB\nVmRSS:\t   30528 kB\nThreads:\t12\n"))
	if rss != 30528 || threads != 12 {
		t.Errorf("rss %d threads %d, want 30528 12", rss, threads)
	}
	if pss := parsePss([]byte("55c0-7ffd [rollup]\nRss:  3400 kB\nPss:  1412 kB\nPss_Anon: 1000 kB\n")); pss != 1412 {
		t.Errorf("pss %d, want 1412", pss)
	}
}

func TestMetricValue(t *testing.T) {
	text := "# HELP go_goroutines Number\n# TYPE go_goroutines gauge\ngo_goroutines 42\ngo_goroutines_other 7\nprocess_open_fds 1.5e+01\n"
	if v, ok := metricValue(text, "go_goroutines"); !ok || v != 42 {
		t.Errorf("go_goroutines = %v %v, want 42", v, ok)
	}
	if v, ok := metricValue(text, "process_open_fds"); !ok || v != 15 {
		t.Errorf("process_open_fds = %v %v, want 15", v, ok)
	}
	if _, ok := metricValue(text, "absent"); ok {
		t.Error("found an absent metric")
	}
}

func TestDist(t *testing.T) {
	if got := (dist{1024, 3072, 2048}).String(); got != "mean 2.0 MiB, p50 2.0 MiB, max 3.0 MiB (3 samples)" {
		t.Errorf("dist = %q", got)
	}
	if got := (dist{}).String(); got != "-" {
		t.Errorf("empty dist = %q", got)
	}
}
