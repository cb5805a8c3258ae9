package stats

import (
	"strconv"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/projector"
)

// The cAdvisor-compatible metrics of ListMetricDescriptors and
// ListPodSandboxMetrics: one table of families, each with its descriptor
// and a pure function from a sample to its values. The names, types and
// labels are cAdvisor's (what dashboards and the kubelet's
// /metrics/cadvisor expect); every value of a family has exactly one label
// value per label key, by construction: the base labels, then the
// family's own.

// baseLabels identify the container of every value: pod name, pod
// namespace, container name ("POD" for the pod's own figures), the
// container's (or sandbox's) ID, and the image the container runs.
var baseLabels = []string{"pod", "namespace", "container", "id", "image"}

// family is one metric: its descriptor and how to compute its values.
type family struct {
	name, help string
	typ        runtimeapi.MetricType
	extra      []string // label keys after the base ones
	// pod: a figure of the pod's network namespace, not of a container.
	pod    bool
	values func(x *input) []value
}

// value is one series of a family: its own label values (after the base
// ones) and its value. CRI metric values are unsigned integers, so time
// is reported in whole seconds, as the names say.
type value struct {
	labels []string
	v      uint64
}

// input is what the values of one container (or, for pod families, one
// pod) are computed from.
type input struct {
	c   *projector.Container // nil for the pod's own figures
	s   sample
	fs  *layerFs // the writable layers' filesystem, nil if unreadable
	net *netSample
	now time.Time
}

const (
	counter = runtimeapi.MetricType_COUNTER
	gauge   = runtimeapi.MetricType_GAUGE
)

func one(v uint64) []value { return []value{{v: v}} }

// secs turns nanoseconds into the whole seconds a uint64 metric carries.
func secs(ns uint64) uint64 { return ns / uint64(time.Second) }

// cg returns fn's values when the container has a cgroup sample, none
// otherwise (a created or exited container has no counters to report).
func cg(fn func(x *input) []value) func(x *input) []value {
	return func(x *input) []value {
		if x.s.cgroup == nil {
			return nil
		}
		return fn(x)
	}
}

// families is the table. Its order is the order of ListMetricDescriptors.
func families() []family {
	return []family{
		// CPU.
		{name: "container_cpu_usage_seconds_total", help: "Cumulative CPU time consumed by the container, in seconds.", typ: counter,
			values: cg(func(x *input) []value { return one(secs(x.s.cgroup.CPU.UsageNanos)) })},
		{name: "container_cpu_user_seconds_total", help: "Cumulative CPU time the container spent in user mode, in seconds.", typ: counter,
			values: cg(func(x *input) []value { return one(secs(x.s.cgroup.CPU.UserNanos)) })},
		{name: "container_cpu_system_seconds_total", help: "Cumulative CPU time the container spent in kernel mode, in seconds.", typ: counter,
			values: cg(func(x *input) []value { return one(secs(x.s.cgroup.CPU.SystemNanos)) })},
		{name: "container_cpu_cfs_periods_total", help: "CFS bandwidth enforcement periods that elapsed while the container ran (zero without a CPU quota).", typ: counter,
			values: cg(func(x *input) []value { return one(x.s.cgroup.CPU.Periods) })},
		{name: "container_cpu_cfs_throttled_periods_total", help: "CFS periods in which the container was throttled.", typ: counter,
			values: cg(func(x *input) []value { return one(x.s.cgroup.CPU.ThrottledPeriods) })},
		{name: "container_cpu_cfs_throttled_seconds_total", help: "Total time the container was throttled, in seconds.", typ: counter,
			values: cg(func(x *input) []value { return one(secs(x.s.cgroup.CPU.ThrottledNanos)) })},

		// Memory.
		{name: "container_memory_usage_bytes", help: "Memory charged to the container, page cache included, in bytes.", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Memory.Usage) })},
		{name: "container_memory_working_set_bytes", help: "Memory usage minus inactive file pages: what the kubelet evicts on, in bytes.", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Memory.WorkingSet) })},
		{name: "container_memory_rss", help: "Anonymous memory of the container (RSS), in bytes.", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Memory.RSS) })},
		{name: "container_memory_cache", help: "Page cache charged to the container, in bytes.", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Memory.Cache) })},
		{name: "container_memory_mapped_file", help: "File memory mapped into the container's processes, in bytes.", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Memory.MappedFile) })},
		{name: "container_memory_kernel_usage", help: "Kernel memory charged to the container, in bytes.", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Memory.KernelUsage) })},
		{name: "container_memory_max_usage_bytes", help: "Peak memory usage of the container, in bytes (zero where the kernel keeps none).", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Memory.MaxUsage) })},
		{name: "container_memory_swap", help: "Swap used by the container (swap alone, not memory plus swap), in bytes.", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Swap.Usage) })},
		{name: "container_memory_failcnt", help: "Times the container's memory usage hit its limit.", typ: counter,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Memory.Failcnt) })},
		{name: "container_memory_failures_total", help: "Page faults of the container's cgroup hierarchy, by kind (pgfault, pgmajfault).", typ: counter,
			extra: []string{"failure_type", "scope"},
			values: cg(func(x *input) []value {
				m := x.s.cgroup.Memory
				return []value{
					{labels: []string{"pgfault", "hierarchy"}, v: m.PageFaults},
					{labels: []string{"pgmajfault", "hierarchy"}, v: m.MajorPageFaults},
				}
			})},
		{name: "container_oom_events_total", help: "Processes of the container ended by the kernel's OOM killer.", typ: counter,
			values: cg(func(x *input) []value { return one(x.s.cgroup.OOMKills) })},
		{name: "container_hugetlb_usage_bytes", help: "Huge pages used by the container, by page size, in bytes.", typ: gauge,
			extra: []string{"pagesize"},
			values: cg(func(x *input) []value {
				var out []value
				for _, h := range x.s.cgroup.Hugetlb {
					out = append(out, value{labels: []string{h.PageSize}, v: h.Usage})
				}
				return out
			})},
		{name: "container_hugetlb_max_usage_bytes", help: "Peak huge page use of the container, by page size, in bytes (cgroup v1 only).", typ: gauge,
			extra: []string{"pagesize"},
			values: cg(func(x *input) []value {
				var out []value
				for _, h := range x.s.cgroup.Hugetlb {
					out = append(out, value{labels: []string{h.PageSize}, v: h.MaxUsage})
				}
				return out
			})},

		// Processes.
		{name: "container_processes", help: "Processes running in the container.", typ: gauge,
			values: cg(func(x *input) []value {
				if x.s.procs != nil {
					return one(x.s.procs.processes)
				}
				return one(x.s.cgroup.Pids.Current)
			})},
		{name: "container_threads", help: "Threads running in the container.", typ: gauge,
			values: procs(func(p *procCounts) uint64 { return p.threads })},
		{name: "container_threads_max", help: "Most threads (tasks) the container may run; zero is no limit.", typ: gauge,
			values: cg(func(x *input) []value { return one(x.s.cgroup.Pids.Limit.Value) })},
		{name: "container_file_descriptors", help: "File descriptors open in the container's processes.", typ: gauge,
			values: procs(func(p *procCounts) uint64 { return p.fds })},
		{name: "container_sockets", help: "Sockets open in the container's processes.", typ: gauge,
			values: procs(func(p *procCounts) uint64 { return p.sockets })},

		// The writable layer and its filesystem.
		{name: "container_fs_usage_bytes", help: "Space the container's writable layer uses, in bytes.", typ: gauge,
			extra: []string{"device"},
			values: layer(func(x *input) uint64 {
				if x.s.layer == nil {
					return 0
				}
				return x.s.layer.UsedBytes
			})},
		{name: "container_fs_limit_bytes", help: "Space the container's writable layer may use: the size of its filesystem, in bytes.", typ: gauge,
			extra: []string{"device"}, values: layer(func(x *input) uint64 { return x.fs.bytes })},
		{name: "container_fs_inodes_total", help: "Inodes of the writable layer's filesystem.", typ: gauge,
			extra: []string{"device"}, values: layer(func(x *input) uint64 { return x.fs.inodes })},
		{name: "container_fs_inodes_free", help: "Free inodes of the writable layer's filesystem.", typ: gauge,
			extra: []string{"device"}, values: layer(func(x *input) uint64 { return x.fs.free })},

		// Block I/O, per device (major:minor), where the kernel counts it.
		{name: "container_fs_reads_bytes_total", help: "Bytes the container read from block devices.", typ: counter,
			extra: []string{"device"}, values: io(func(d cgroups.IODevice) uint64 { return d.ReadBytes })},
		{name: "container_fs_reads_total", help: "Reads the container completed from block devices.", typ: counter,
			extra: []string{"device"}, values: io(func(d cgroups.IODevice) uint64 { return d.ReadOps })},
		{name: "container_fs_writes_bytes_total", help: "Bytes the container wrote to block devices.", typ: counter,
			extra: []string{"device"}, values: io(func(d cgroups.IODevice) uint64 { return d.WriteBytes })},
		{name: "container_fs_writes_total", help: "Writes the container completed to block devices.", typ: counter,
			extra: []string{"device"}, values: io(func(d cgroups.IODevice) uint64 { return d.WriteOps })},
		{name: "container_blkio_device_usage_total", help: "Bytes the container moved to and from each block device, by operation.", typ: counter,
			extra: []string{"device", "major", "minor", "operation"},
			values: cg(func(x *input) []value {
				var out []value
				for _, d := range x.s.cgroup.IO.Devices {
					dev, maj, mnr := devName(d.Major, d.Minor), strconv.FormatUint(d.Major, 10), strconv.FormatUint(d.Minor, 10)
					out = append(out,
						value{labels: []string{dev, maj, mnr, "Read"}, v: d.ReadBytes},
						value{labels: []string{dev, maj, mnr, "Write"}, v: d.WriteBytes})
				}
				return out
			})},

		// The pod's network namespace, per interface (loopback left out).
		netFamily("container_network_receive_bytes_total", "Bytes received", func(i netIface) uint64 { return i.rxBytes }),
		netFamily("container_network_receive_packets_total", "Packets received", func(i netIface) uint64 { return i.rxPackets }),
		netFamily("container_network_receive_packets_dropped_total", "Packets dropped while receiving", func(i netIface) uint64 { return i.rxDropped }),
		netFamily("container_network_receive_errors_total", "Errors while receiving", func(i netIface) uint64 { return i.rxErrors }),
		netFamily("container_network_transmit_bytes_total", "Bytes transmitted", func(i netIface) uint64 { return i.txBytes }),
		netFamily("container_network_transmit_packets_total", "Packets transmitted", func(i netIface) uint64 { return i.txPackets }),
		netFamily("container_network_transmit_packets_dropped_total", "Packets dropped while transmitting", func(i netIface) uint64 { return i.txDropped }),
		netFamily("container_network_transmit_errors_total", "Errors while transmitting", func(i netIface) uint64 { return i.txErrors }),

		// The container's spec: the resources it asked for (zero: none).
		{name: "container_spec_cpu_period", help: "CFS period of the container's CPU quota, in microseconds (zero: none).", typ: gauge,
			values: spec(func(r *runtimeapi.LinuxContainerResources) uint64 { return uint64(max(r.GetCpuPeriod(), 0)) })},
		{name: "container_spec_cpu_quota", help: "CFS quota of the container per period, in microseconds (zero: none).", typ: gauge,
			values: spec(func(r *runtimeapi.LinuxContainerResources) uint64 { return uint64(max(r.GetCpuQuota(), 0)) })},
		{name: "container_spec_cpu_shares", help: "CPU shares (relative weight) of the container.", typ: gauge,
			values: spec(func(r *runtimeapi.LinuxContainerResources) uint64 { return uint64(max(r.GetCpuShares(), 0)) })},
		{name: "container_spec_memory_limit_bytes", help: "Memory limit of the container, in bytes (zero: none).", typ: gauge,
			values: spec(func(r *runtimeapi.LinuxContainerResources) uint64 { return uint64(max(r.GetMemoryLimitInBytes(), 0)) })},
		{name: "container_spec_memory_swap_limit_bytes", help: "Memory plus swap limit of the container, in bytes (zero: none).", typ: gauge,
			values: spec(func(r *runtimeapi.LinuxContainerResources) uint64 {
				return uint64(max(r.GetMemorySwapLimitInBytes(), 0))
			})},

		// Times.
		{name: "container_start_time_seconds", help: "When the container started (or was created, if it never started), in seconds since the epoch.", typ: gauge,
			values: func(x *input) []value {
				if x.c == nil {
					return nil
				}
				t := x.c.StartedAt
				if t == 0 {
					t = x.c.CreatedAt
				}
				return one(uint64(max(t, 0)) / uint64(time.Second))
			}},
		{name: "container_last_seen", help: "When the runtime last saw the container, in seconds since the epoch.", typ: gauge,
			values: func(x *input) []value {
				if x.c == nil {
					return nil
				}
				return one(uint64(x.now.Unix()))
			}},
	}
}

func devName(major, minor uint64) string {
	return strconv.FormatUint(major, 10) + ":" + strconv.FormatUint(minor, 10)
}

func io(fn func(d cgroups.IODevice) uint64) func(x *input) []value {
	return cg(func(x *input) []value {
		var out []value
		for _, d := range x.s.cgroup.IO.Devices {
			out = append(out, value{labels: []string{devName(d.Major, d.Minor)}, v: fn(d)})
		}
		return out
	})
}

func procs(fn func(p *procCounts) uint64) func(x *input) []value {
	return cg(func(x *input) []value {
		if x.s.procs == nil {
			return nil
		}
		return one(fn(x.s.procs))
	})
}

// layer values are labelled with the directory of the writable layers
// (the filesystem ImageFsInfo's container_filesystems names).
func layer(fn func(x *input) uint64) func(x *input) []value {
	return func(x *input) []value {
		if x.c == nil || x.fs == nil {
			return nil
		}
		return []value{{labels: []string{x.fs.device}, v: fn(x)}}
	}
}

func spec(fn func(r *runtimeapi.LinuxContainerResources) uint64) func(x *input) []value {
	return func(x *input) []value {
		if x.c == nil {
			return nil
		}
		return one(fn(x.c.Resources.GetLinux()))
	}
}

func netFamily(name, what string, fn func(i netIface) uint64) family {
	return family{
		name: name, help: "Cumulative count of " + lower(what) + " on the pod's network interface.", typ: counter,
		extra: []string{"interface"}, pod: true,
		values: func(x *input) []value {
			if x.net == nil {
				return nil
			}
			out := make([]value, 0, len(x.net.ifaces))
			for _, i := range x.net.ifaces {
				out = append(out, value{labels: []string{i.name}, v: fn(i)})
			}
			return out
		},
	}
}

func lower(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'A' && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}

// descriptors is ListMetricDescriptors' answer.
func descriptors(fams []family) []*runtimeapi.MetricDescriptor {
	out := make([]*runtimeapi.MetricDescriptor, len(fams))
	for i, f := range fams {
		out[i] = &runtimeapi.MetricDescriptor{
			Name:      f.name,
			Help:      f.help,
			LabelKeys: append(append(make([]string, 0, len(baseLabels)+len(f.extra)), baseLabels...), f.extra...),
		}
	}
	return out
}

// podMetrics computes one pod's metrics: the pod-level families from its
// network sample, the container families from each container's sample.
func podMetrics(fams []family, sb *projector.Sandbox, net *netSample, ctrs []*projector.Container, samples []sample, fs *layerFs, now time.Time) *runtimeapi.PodSandboxMetrics {
	md := sb.Config.GetMetadata()
	out := &runtimeapi.PodSandboxMetrics{PodSandboxId: sb.ID}
	podIn := &input{net: net, fs: fs, now: now}
	podBase := []string{md.GetName(), md.GetNamespace(), "POD", sb.ID, ""}
	for _, f := range fams {
		if f.pod {
			out.Metrics = append(out.Metrics, metricsOf(f, podBase, f.values(podIn))...)
		}
	}
	for i, c := range ctrs {
		in := &input{c: c, s: samples[i], fs: fs, now: now}
		base := []string{md.GetName(), md.GetNamespace(), c.Config.GetMetadata().GetName(), c.ID, imageName(c)}
		cm := &runtimeapi.ContainerMetrics{ContainerId: c.ID}
		for _, f := range fams {
			if !f.pod {
				cm.Metrics = append(cm.Metrics, metricsOf(f, base, f.values(in))...)
			}
		}
		out.ContainerMetrics = append(out.ContainerMetrics, cm)
	}
	return out
}

func metricsOf(f family, base []string, vals []value) []*runtimeapi.Metric {
	out := make([]*runtimeapi.Metric, 0, len(vals))
	for _, v := range vals {
		labels := append(append(make([]string, 0, len(base)+len(v.labels)), base...), v.labels...)
		// Timestamp 0: gathered live, as the CRI asks.
		out = append(out, &runtimeapi.Metric{Name: f.name, MetricType: f.typ, LabelValues: labels, Value: u64(v.v)})
	}
	return out
}

// imageName is the image as the user named it, else its reference.
func imageName(c *projector.Container) string {
	if n := c.Image.GetImage(); n != "" {
		return n
	}
	if c.ImageRef != "" {
		return c.ImageRef
	}
	return c.ImageID
}
