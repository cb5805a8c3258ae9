package network

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkCNI measures what networking adds to a pod's start and stop:
// one ADD (Setup) and one DEL (Teardown) of the default chain (bridge,
// host-local, portmap) per pod, on a real bridge, each pod in a namespace
// of its own. Besides ns/op it reports the p50 and p90 of each, in
// milliseconds. Namespace creation and removal are not timed.
//
//	go test -run '^$' -bench BenchmarkCNI -benchtime 50x ./network
func BenchmarkCNI(b *testing.B) {
	requireCNI(b, "bridge", "host-local", "portmap")
	tn := newTestNet(b, 247)
	tn.writeConf(b, "10-bench.conflist", tn.bridgeChain(portmapPlugin))
	m := tn.manager(b, Options{Logger: nil})
	ctx := context.Background()
	var adds, dels []time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		ns, id, pod := newNetNS(b), sandboxID(b), podConfig(b)
		b.StartTimer()

		t0 := time.Now()
		res, err := m.Setup(ctx, id, ns, pod)
		t1 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Teardown(ctx, id, ns, pod, res); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()

		b.StopTimer()
		adds, dels = append(adds, t1.Sub(t0)), append(dels, t2.Sub(t1))
		if err := unix.Unmount(ns, unix.MNT_DETACH); err != nil {
			b.Fatal(err)
		}
		_ = os.Remove(ns)
		b.StartTimer()
	}
	b.StopTimer()
	if n := len(tn.leases(b)); n != 0 {
		b.Fatalf("%d leases left after the benchmark", n)
	}
	report := func(name string, d []time.Duration) {
		slices.Sort(d)
		b.ReportMetric(ms(d[len(d)*50/100]), name+"-p50-ms")
		b.ReportMetric(ms(d[min(len(d)-1, len(d)*90/100)]), name+"-p90-ms")
	}
	report("add", adds)
	report("del", dels)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
