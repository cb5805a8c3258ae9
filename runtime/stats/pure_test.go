package stats

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/projector"
)

const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0
  eth0: 1000 10 1 2 0 0 0 0 2000 20 3 4 0 0 0 0
  net1:    7       1    0    0    0     0          0         0        9       1    0    0    0     0       0          0
`

func TestParseNetDev(t *testing.T) {
	got, err := parseNetDev([]byte(netDev))
	if err != nil {
		t.Fatal(err)
	}
	want := []netIface{
		{name: "eth0", rxBytes: 1000, rxPackets: 10, rxErrors: 1, rxDropped: 2, txBytes: 2000, txPackets: 20, txErrors: 3, txDropped: 4},
		{name: "net1", rxBytes: 7, rxPackets: 1, txBytes: 9, txPackets: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseNetDev = %+v, want %+v", got, want)
	}
	for _, bad := range []string{
		"h\nh\neth0 1 2 3\n",                         // no colon
		"h\nh\neth0: 1 2 3\n",                        // too few fields
		"h\nh\neth0: 1 2 3 4 5 6 7 8 9 10 11 x 13\n", // not a number
	} {
		if _, err := parseNetDev([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("parseNetDev(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

var t0 = time.Unix(1_700_000_000, 0)

func cgSample(at time.Time, cpu uint64) cgroups.Stats {
	return cgroups.Stats{
		Timestamp: at,
		CPU:       cgroups.CPUStats{UsageNanos: cpu, UserNanos: cpu * 2 / 3, SystemNanos: cpu / 3, Periods: 10, ThrottledPeriods: 2, ThrottledNanos: 3e9},
		Memory: cgroups.MemoryStats{Usage: 100 << 20, WorkingSet: 60 << 20, RSS: 40 << 20, Cache: 50 << 20, MappedFile: 1 << 20,
			PageFaults: 1000, MajorPageFaults: 3, Failcnt: 4, MaxUsage: 120 << 20, KernelUsage: 2 << 20},
		OOMKills: 1,
		Pids:     cgroups.PidsStats{Current: 3, Limit: cgroups.Limit{Value: 100, Set: true}},
	}
}

func testContainer(state projector.ContainerState) *projector.Container {
	return &projector.Container{
		ID: "c1", SandboxID: "sb1", State: state,
		Config: &runtimeapi.ContainerConfig{
			Metadata:    &runtimeapi.ContainerMetadata{Name: "web", Attempt: 1},
			Labels:      map[string]string{"app": "web"},
			Annotations: map[string]string{"a": "b"},
		},
		Image:     &runtimeapi.ImageSpec{Image: "busybox:1.36"},
		Resources: &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 20000, CpuShares: 1024, MemoryLimitInBytes: 64 << 20, MemorySwapLimitInBytes: 64 << 20}},
		CreatedAt: t0.UnixNano(), StartedAt: t0.Add(time.Second).UnixNano(),
	}
}

func TestContainerStats(t *testing.T) {
	cur := cgSample(t0.Add(2*time.Second), 3e9)
	prev := cgSample(t0, 2e9)
	layer := &image.Usage{Timestamp: t0, UsedBytes: 4096, InodesUsed: 3}

	t.Run("running", func(t *testing.T) {
		st := containerStats(testContainer(projector.ContainerRunning), sample{cgroup: &cur, layer: layer}, &prev, "/root/containers", t0)
		if a := st.GetAttributes(); a.GetId() != "c1" || a.GetMetadata().GetName() != "web" || a.GetLabels()["app"] != "web" || a.GetAnnotations()["a"] != "b" {
			t.Errorf("attributes %v", a)
		}
		cpu := st.GetCpu()
		if cpu.GetTimestamp() != cur.Timestamp.UnixNano() || cpu.GetUsageCoreNanoSeconds().GetValue() != 3e9 {
			t.Errorf("cpu %v", cpu)
		}
		// 1 s of CPU in 2 s: half a core.
		if cpu.GetUsageNanoCores().GetValue() != 5e8 {
			t.Errorf("usage_nano_cores = %v, want 5e8", cpu.GetUsageNanoCores())
		}
		m := st.GetMemory()
		if m.GetWorkingSetBytes().GetValue() != 60<<20 || m.GetUsageBytes().GetValue() != 100<<20 || m.GetRssBytes().GetValue() != 40<<20 ||
			m.GetPageFaults().GetValue() != 1000 || m.GetMajorPageFaults().GetValue() != 3 || m.GetTimestamp() == 0 {
			t.Errorf("memory %v", m)
		}
		if m.GetAvailableBytes() != nil {
			t.Errorf("available bytes %v without a memory limit", m.GetAvailableBytes())
		}
		if st.GetSwap() != nil {
			t.Errorf("swap %v where the kernel does not account it", st.GetSwap())
		}
		w := st.GetWritableLayer()
		if w.GetFsId().GetMountpoint() != "/root/containers" || w.GetUsedBytes().GetValue() != 4096 || w.GetInodesUsed().GetValue() != 3 {
			t.Errorf("writable layer %v", w)
		}
	})
	t.Run("limits", func(t *testing.T) {
		lim := cur
		lim.Memory.Limit = cgroups.Limit{Value: 64 << 20, Set: true}
		lim.Swap = cgroups.SwapStats{Accounted: true, Usage: 1 << 20}
		st := containerStats(testContainer(projector.ContainerRunning), sample{cgroup: &lim}, nil, "/m", t0)
		if got := st.GetMemory().GetAvailableBytes().GetValue(); got != 4<<20 {
			t.Errorf("available = %d, want limit minus working set (4 MiB)", got)
		}
		if st.GetCpu().GetUsageNanoCores() != nil {
			t.Error("usage_nano_cores from a single sample")
		}
		sw := st.GetSwap()
		if sw.GetSwapUsageBytes().GetValue() != 1<<20 || sw.GetSwapAvailableBytes() != nil {
			t.Errorf("swap %v: usage 1 MiB and no available bytes without a swap limit", sw)
		}
		lim.Swap.Limit = cgroups.Limit{Value: 3 << 20, Set: true}
		st = containerStats(testContainer(projector.ContainerRunning), sample{cgroup: &lim}, nil, "/m", t0)
		if got := st.GetSwap().GetSwapAvailableBytes().GetValue(); got != 2<<20 {
			t.Errorf("swap available = %d, want 2 MiB", got)
		}
	})
	t.Run("no cgroup", func(t *testing.T) {
		st := containerStats(testContainer(projector.ContainerExited), sample{}, nil, "/m", t0)
		if st.GetCpu() != nil || st.GetMemory() != nil || st.GetSwap() != nil {
			t.Errorf("figures for a container without a cgroup: %v", st)
		}
		if st.GetAttributes().GetId() != "c1" || st.GetWritableLayer().GetUsedBytes() == nil || st.GetWritableLayer().GetTimestamp() != t0.UnixNano() {
			t.Errorf("attributes and layer must stay: %v", st)
		}
	})
	t.Run("counter went backwards", func(t *testing.T) {
		back := cgSample(t0.Add(time.Second), 1e9) // recreated cgroup
		st := containerStats(testContainer(projector.ContainerRunning), sample{cgroup: &back}, &prev, "/m", t0)
		if st.GetCpu().GetUsageNanoCores() != nil {
			t.Errorf("usage_nano_cores %v from incomparable samples", st.GetCpu().GetUsageNanoCores())
		}
	})
}

func TestSumAndPodStats(t *testing.T) {
	a, b := cgSample(t0, 1e9), cgSample(t0.Add(time.Second), 2e9)
	a.Swap = cgroups.SwapStats{Accounted: true, Usage: 5}
	a.Memory.Limit = cgroups.Limit{Value: 1 << 30, Set: true}
	s := sum([]*cgroups.Stats{&a, nil, &b})
	if s.CPU.UsageNanos != 3e9 || s.Memory.WorkingSet != 120<<20 || s.Pids.Current != 6 || s.OOMKills != 2 || !s.Timestamp.Equal(b.Timestamp) {
		t.Errorf("sum = %+v", s)
	}
	if s.Memory.Limit.Set || s.Swap.Accounted {
		t.Errorf("a sum keeps no limit (%v) and accounts swap only if every part does (%v)", s.Memory.Limit, s.Swap.Accounted)
	}
	if sum(nil) != nil || sum([]*cgroups.Stats{nil}) != nil {
		t.Error("the sum of nothing is not nil")
	}

	sb := &projector.Sandbox{ID: "sb1", State: projector.SandboxReady, Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"}, Labels: map[string]string{"x": "y"}}}
	ctr := containerStats(testContainer(projector.ContainerRunning), sample{cgroup: &a}, nil, "/m", t0)
	prevAgg := cgSample(t0.Add(-time.Second), 1e9)
	net := &netSample{at: t0, ifaces: []netIface{{name: "net1", rxBytes: 1}, {name: "eth0", rxBytes: 2, txErrors: 3}}}
	ps := podStats(sb, []*runtimeapi.ContainerStats{ctr}, s, &prevAgg, net)
	if ps.GetAttributes().GetId() != "sb1" || ps.GetAttributes().GetMetadata().GetName() != "p" || ps.GetAttributes().GetLabels()["x"] != "y" {
		t.Errorf("attributes %v", ps.GetAttributes())
	}
	l := ps.GetLinux()
	if len(l.GetContainers()) != 1 || l.GetCpu().GetUsageCoreNanoSeconds().GetValue() != 3e9 || l.GetCpu().GetUsageNanoCores().GetValue() != 1e9 ||
		l.GetMemory().GetWorkingSetBytes().GetValue() != 120<<20 || l.GetMemory().GetAvailableBytes() != nil || l.GetProcess().GetProcessCount().GetValue() != 6 {
		t.Errorf("pod figures %v", l)
	}
	if n := l.GetNetwork(); n.GetDefaultInterface().GetName() != "eth0" || n.GetDefaultInterface().GetTxErrors().GetValue() != 3 || len(n.GetInterfaces()) != 2 {
		t.Errorf("network %v: eth0 is the default of two interfaces", n)
	}
	if n := podStats(sb, nil, nil, nil, nil).GetLinux(); n.GetCpu() != nil || n.GetMemory() != nil || n.GetNetwork() != nil {
		t.Errorf("a pod with nothing readable: %v", n)
	}
}

// The descriptors critest v1.37.0 requires (pod.go), minus the ones it
// lists as not implemented by every runtime.
var required = []string{
	"container_blkio_device_usage_total", "container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total",
	"container_cpu_cfs_throttled_seconds_total", "container_cpu_system_seconds_total", "container_cpu_usage_seconds_total",
	"container_cpu_user_seconds_total", "container_file_descriptors", "container_fs_inodes_free", "container_fs_inodes_total",
	"container_fs_limit_bytes", "container_fs_reads_bytes_total", "container_fs_reads_total", "container_fs_usage_bytes",
	"container_fs_writes_bytes_total", "container_fs_writes_total", "container_last_seen", "container_memory_cache",
	"container_memory_failcnt", "container_memory_failures_total", "container_memory_kernel_usage", "container_memory_mapped_file",
	"container_memory_max_usage_bytes", "container_memory_rss", "container_memory_swap", "container_memory_usage_bytes",
	"container_memory_working_set_bytes", "container_network_receive_bytes_total", "container_network_receive_errors_total",
	"container_network_receive_packets_dropped_total", "container_network_receive_packets_total", "container_network_transmit_bytes_total",
	"container_network_transmit_errors_total", "container_network_transmit_packets_dropped_total", "container_network_transmit_packets_total",
	"container_oom_events_total", "container_processes", "container_sockets", "container_spec_cpu_period", "container_spec_cpu_shares",
	"container_spec_memory_limit_bytes", "container_spec_memory_swap_limit_bytes", "container_start_time_seconds", "container_threads",
	"container_threads_max",
}

func TestDescriptors(t *testing.T) {
	descs := descriptors(families())
	byName := map[string]*runtimeapi.MetricDescriptor{}
	for _, d := range descs {
		if _, dup := byName[d.GetName()]; dup {
			t.Errorf("descriptor %s twice", d.GetName())
		}
		byName[d.GetName()] = d
		if d.GetHelp() == "" || len(d.GetLabelKeys()) < len(baseLabels) || !slices.Equal(d.GetLabelKeys()[:len(baseLabels)], baseLabels) {
			t.Errorf("descriptor %v: help and the base label keys first", d)
		}
		if !strings.HasPrefix(d.GetName(), "container_") {
			t.Errorf("descriptor %s is not a cAdvisor name", d.GetName())
		}
	}
	for _, name := range required {
		if byName[name] == nil {
			t.Errorf("no descriptor %s", name)
		}
	}
	if len(required) != 45 {
		t.Fatalf("the required list has %d names, want critest's 45", len(required))
	}
}

// TestMetricsMatchDescriptors: with a sample that has everything, every
// descriptor gets values, each with one label value per label key; and
// the values are the sample's.
func TestMetricsMatchDescriptors(t *testing.T) {
	fams := families()
	cur := cgSample(t0, 7_500_000_000)
	cur.Swap = cgroups.SwapStats{Accounted: true, Usage: 9}
	cur.IO = cgroups.IOStats{Devices: []cgroups.IODevice{{Major: 8, Minor: 0, ReadBytes: 11, WriteBytes: 12, ReadOps: 1, WriteOps: 2}}}
	cur.Hugetlb = []cgroups.HugetlbStats{{PageSize: "2MB", Usage: 2 << 20}}
	s := sample{cgroup: &cur, layer: &image.Usage{UsedBytes: 4096, InodesUsed: 3}, procs: &procCounts{processes: 2, fds: 9, sockets: 1, threads: 5}}
	sb := &projector.Sandbox{ID: "sb1", Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns"}}}
	net := &netSample{ifaces: []netIface{{name: "eth0", rxBytes: 100, txPackets: 7}}}
	fs := &layerFs{device: "/root/containers", bytes: 1 << 30, inodes: 1000, free: 900}
	pm := podMetrics(fams, sb, net, []*projector.Container{testContainer(projector.ContainerRunning)}, []sample{s}, fs, t0.Add(time.Hour))

	if pm.GetPodSandboxId() != "sb1" || len(pm.GetContainerMetrics()) != 1 || pm.GetContainerMetrics()[0].GetContainerId() != "c1" {
		t.Fatalf("pod metrics %v", pm)
	}
	keys := map[string]int{}
	for _, d := range descriptors(fams) {
		keys[d.GetName()] = len(d.GetLabelKeys())
	}
	values := map[string][]*runtimeapi.Metric{}
	all := append([]*runtimeapi.Metric(nil), pm.GetMetrics()...)
	all = append(all, pm.GetContainerMetrics()[0].GetMetrics()...)
	for _, m := range all {
		n, ok := keys[m.GetName()]
		if !ok {
			t.Errorf("metric %s has no descriptor", m.GetName())
		}
		if len(m.GetLabelValues()) != n {
			t.Errorf("metric %s: %d label values for %d keys", m.GetName(), len(m.GetLabelValues()), n)
		}
		if m.GetValue() == nil || m.GetTimestamp() != 0 {
			t.Errorf("metric %s: value %v, timestamp %d (live: 0)", m.GetName(), m.GetValue(), m.GetTimestamp())
		}
		values[m.GetName()] = append(values[m.GetName()], m)
	}
	for name := range keys {
		if len(values[name]) == 0 {
			t.Errorf("no value for %s", name)
		}
	}
	check := func(name string, labels []string, want uint64) {
		t.Helper()
		for _, m := range values[name] {
			if slices.Equal(m.GetLabelValues(), labels) {
				if m.GetValue().GetValue() != want {
					t.Errorf("%s%v = %d, want %d", name, labels, m.GetValue().GetValue(), want)
				}
				return
			}
		}
		t.Errorf("%s: no series %v among %v", name, labels, values[name])
	}
	base := []string{"p", "ns", "web", "c1", "busybox:1.36"}
	with := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	check("container_cpu_usage_seconds_total", base, 7)
	check("container_memory_working_set_bytes", base, 60<<20)
	check("container_memory_swap", base, 9)
	check("container_oom_events_total", base, 1)
	check("container_memory_failures_total", with("pgmajfault", "hierarchy"), 3)
	check("container_threads_max", base, 100)
	check("container_sockets", base, 1)
	check("container_fs_usage_bytes", with("/root/containers"), 4096)
	check("container_fs_inodes_free", with("/root/containers"), 900)
	check("container_fs_writes_bytes_total", with("8:0"), 12)
	check("container_blkio_device_usage_total", with("8:0", "8", "0", "Read"), 11)
	check("container_hugetlb_usage_bytes", with("2MB"), 2<<20)
	check("container_spec_cpu_quota", base, 20000)
	check("container_spec_memory_swap_limit_bytes", base, 64<<20)
	check("container_start_time_seconds", base, uint64(t0.Unix()+1))
	check("container_last_seen", base, uint64(t0.Unix()+3600))
	check("container_network_receive_bytes_total", []string{"p", "ns", "POD", "sb1", "", "eth0"}, 100)
	check("container_network_transmit_packets_total", []string{"p", "ns", "POD", "sb1", "", "eth0"}, 7)

	// A container without a cgroup: only what needs none.
	pm = podMetrics(fams, sb, nil, []*projector.Container{testContainer(projector.ContainerExited)}, []sample{{}}, nil, t0)
	var names []string
	for _, m := range pm.GetContainerMetrics()[0].GetMetrics() {
		names = append(names, m.GetName())
	}
	slices.Sort(names)
	want := []string{"container_last_seen", "container_spec_cpu_period", "container_spec_cpu_quota", "container_spec_cpu_shares",
		"container_spec_memory_limit_bytes", "container_spec_memory_swap_limit_bytes", "container_start_time_seconds"}
	if !slices.Equal(names, want) || len(pm.GetMetrics()) != 0 {
		t.Errorf("metrics without a cgroup: %v, pod: %v; want %v", names, pm.GetMetrics(), want)
	}
}
