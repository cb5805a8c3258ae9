package cgroups_test

import (
	"testing"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/cgroups/cgroupstest"
)

// liveCgroup is a test cgroup with one sleeping process in it.
func liveCgroup(b *testing.B) cgroups.Cgroup {
	cg := cgroupstest.New(b)
	cmd := cgroupstest.Start(b, cg, cgroupstest.Busybox, "sleep", "1000")
	cgroupstest.WaitInside(b, cg, cmd.Process.Pid)
	return cg
}

// BenchmarkReadStats is the cost of one full sample of a live cgroup
// (what ListContainerStats pays per container).
func BenchmarkReadStats(b *testing.B) {
	cg := liveCgroup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cgroups.ReadStats(cg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOOMKills is the cost the exit path pays before removing a
// cgroup.
func BenchmarkOOMKills(b *testing.B) {
	cg := liveCgroup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cgroups.OOMKills(cg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetect is the cost of host detection at daemon start.
func BenchmarkDetect(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cgroups.Detect(); err != nil {
			b.Skip(err)
		}
	}
}
