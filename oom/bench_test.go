package oom_test

import (
	"testing"

	"github.com/logbook-cri/logbook/cgroups/cgroupstest"
	"github.com/logbook-cri/logbook/oom"
)

// BenchmarkAddRemove is the cost of starting and ending the watch of one
// v1 cgroup (eventfd, cgroup.event_control, epoll_ctl, baseline read).
func BenchmarkAddRemove(b *testing.B) {
	cg := cgroupstest.New(b)
	w, err := oom.New(func(oom.Event) {}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Add("c", cg); err != nil {
			b.Fatal(err)
		}
		w.Remove("c")
	}
}
