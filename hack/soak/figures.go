package main

import (
	"fmt"
	"slices"
	"strings"
)

// sample is what the driver measures of the daemon at one moment.
type sample struct {
	rssKiB     int64 // VmRSS
	goroutines int   // go_goroutines of its /metrics
	fds        int   // entries of /proc/<pid>/fd
	threads    int   // Threads of /proc/<pid>/status
}

// bounds are the growth a soak may show between the baseline (after a
// warm-up wave, every pod removed) and the end (every pod removed again):
// what a daemon that keeps nothing of removed pods stays within.
type bounds struct {
	// rssFactor and rssSlackKiB bound RSS: after <= before*factor + slack.
	// Go's heap grows to its high-water mark under load and the scavenger
	// returns it to the kernel over minutes, so RSS is judged loosely.
	rssFactor   float64
	rssSlackKiB int64
	// goroutines and fds bound the absolute growth: both return to their
	// baseline when nothing leaks (a few for a connection in flight).
	goroutines int
	fds        int
}

var defaultBounds = bounds{rssFactor: 1.5, rssSlackKiB: 16 << 10, goroutines: 10, fds: 10}

// check lists the bounds the end sample breaks.
func (b bounds) check(before, after sample) []string {
	var out []string
	if limit := int64(float64(before.rssKiB)*b.rssFactor) + b.rssSlackKiB; after.rssKiB > limit {
		out = append(out, fmt.Sprintf("RSS grew from %s to %s (bound %s: %.1fx + %s)",
			kib(before.rssKiB), kib(after.rssKiB), kib(limit), b.rssFactor, kib(b.rssSlackKiB)))
	}
	if after.goroutines > before.goroutines+b.goroutines {
		out = append(out, fmt.Sprintf("goroutines grew from %d to %d (bound +%d)", before.goroutines, after.goroutines, b.goroutines))
	}
	if after.fds > before.fds+b.fds {
		out = append(out, fmt.Sprintf("file descriptors grew from %d to %d (bound +%d)", before.fds, after.fds, b.fds))
	}
	return out
}

// kib formats a size in KiB as MiB.
func kib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/1024) }

// ratio formats after/before.
func ratio(before, after float64) string {
	if before == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", after/before)
}

// dist summarises samples: mean, p50, max.
type dist []int64

func (d dist) String() string {
	if len(d) == 0 {
		return "-"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum int64
	for _, v := range s {
		sum += v
	}
	return fmt.Sprintf("mean %s, p50 %s, max %s (%d samples)", kib(sum/int64(len(s))), kib(s[len(s)/2]), kib(s[len(s)-1]), len(s))
}

// parseStatus reads VmRSS (KiB) and Threads from /proc/<pid>/status.
func parseStatus(b []byte) (rssKiB int64, threads int) {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &rssKiB)
		case "Threads":
			fmt.Sscanf(strings.TrimSpace(v), "%d", &threads)
		}
	}
	return rssKiB, threads
}

// parsePss reads Pss (KiB) from /proc/<pid>/smaps_rollup.
func parsePss(b []byte) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			var n int64
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &n)
			return n
		}
	}
	return 0
}

// metricValue finds an unlabelled sample in Prometheus text exposition.
func metricValue(text, name string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g", &f); err == nil {
				return f, true
			}
		}
	}
	return 0, false
}
