package stats

import (
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/projector"
)

// The pure half of ContainerStats and PodSandboxStats: CRI messages from
// projector views and samples. Nothing here reads a file or the clock.

func u64(v uint64) *runtimeapi.UInt64Value { return &runtimeapi.UInt64Value{Value: v} }

// containerStats is a container's ContainerStats. Without a cgroup sample
// (not created by runc yet, or exited and gone) it carries the attributes
// and the writable layer, and no CPU, memory, swap or process figures: an
// absent figure is "unknown", a zero one would be a claim.
func containerStats(c *projector.Container, s sample, prev *cgroups.Stats, layerMount string, now time.Time) *runtimeapi.ContainerStats {
	out := &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{
			Id:          c.ID,
			Metadata:    c.Config.GetMetadata(),
			Labels:      c.Config.GetLabels(),
			Annotations: c.Config.GetAnnotations(),
		},
	}
	if cg := s.cgroup; cg != nil {
		out.Cpu = cpuUsage(*cg, prev)
		out.Memory = memoryUsage(*cg)
		out.Swap = swapUsage(*cg)
	}
	out.WritableLayer = layerUsage(s, layerMount, now)
	return out
}

// cpuUsage: cumulative usage, and the rate since prev when the two samples
// are comparable (the first sample of a container has none).
func cpuUsage(cur cgroups.Stats, prev *cgroups.Stats) *runtimeapi.CpuUsage {
	u := &runtimeapi.CpuUsage{
		Timestamp:            cur.Timestamp.UnixNano(),
		UsageCoreNanoSeconds: u64(cur.CPU.UsageNanos),
	}
	if prev != nil {
		if nc, ok := cgroups.NanoCores(*prev, cur); ok {
			u.UsageNanoCores = u64(nc)
		}
	}
	return u
}

// memoryUsage: available bytes only where a limit exists.
func memoryUsage(cur cgroups.Stats) *runtimeapi.MemoryUsage {
	m := cur.Memory
	u := &runtimeapi.MemoryUsage{
		Timestamp:       cur.Timestamp.UnixNano(),
		WorkingSetBytes: u64(m.WorkingSet),
		UsageBytes:      u64(m.Usage),
		RssBytes:        u64(m.RSS),
		PageFaults:      u64(m.PageFaults),
		MajorPageFaults: u64(m.MajorPageFaults),
	}
	if avail, ok := m.Limit.Available(m.WorkingSet); ok {
		u.AvailableBytes = u64(avail)
	}
	return u
}

// swapUsage: swap alone, nil where the kernel does not account it;
// available bytes only where a swap limit exists.
func swapUsage(cur cgroups.Stats) *runtimeapi.SwapUsage {
	if !cur.Swap.Accounted {
		return nil
	}
	u := &runtimeapi.SwapUsage{
		Timestamp:      cur.Timestamp.UnixNano(),
		SwapUsageBytes: u64(cur.Swap.Usage),
	}
	if avail, ok := cur.Swap.Limit.Available(cur.Swap.Usage); ok {
		u.SwapAvailableBytes = u64(avail)
	}
	return u
}

// layerUsage: the writable layer's use, with the directory of the layers
// as the filesystem's identity (ImageFsInfo's container_filesystems names
// the same). A container whose layer is gone uses nothing.
func layerUsage(s sample, mount string, now time.Time) *runtimeapi.FilesystemUsage {
	u := &runtimeapi.FilesystemUsage{
		Timestamp:  now.UnixNano(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: mount},
		UsedBytes:  u64(0),
		InodesUsed: u64(0),
	}
	if l := s.layer; l != nil {
		u.Timestamp = l.Timestamp.UnixNano()
		u.UsedBytes, u.InodesUsed = u64(l.UsedBytes), u64(l.InodesUsed)
	}
	return u
}

// podStats is a pod's PodSandboxStats: its containers' stats, and the sum
// of their cgroups and the infra's (agg, nil when none could be read) for
// the pod's own CPU, memory and process figures; prevAgg is the previous
// sum, for the CPU rate.
func podStats(sb *projector.Sandbox, ctrs []*runtimeapi.ContainerStats, agg, prevAgg *cgroups.Stats, net *netSample) *runtimeapi.PodSandboxStats {
	linux := &runtimeapi.LinuxPodSandboxStats{Containers: ctrs}
	if agg != nil {
		linux.Cpu = cpuUsage(*agg, prevAgg)
		linux.Memory = memoryUsage(*agg)
		linux.Process = &runtimeapi.ProcessUsage{Timestamp: agg.Timestamp.UnixNano(), ProcessCount: u64(agg.Pids.Current)}
	}
	if net != nil {
		linux.Network = networkUsage(*net)
	}
	return &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{
			Id:          sb.ID,
			Metadata:    sb.Config.GetMetadata(),
			Labels:      sb.Config.GetLabels(),
			Annotations: sb.Config.GetAnnotations(),
		},
		Linux: linux,
	}
}

// networkUsage: every interface but loopback; the default one is eth0, as
// CNI names the pod's interface, else the first.
func networkUsage(n netSample) *runtimeapi.NetworkUsage {
	u := &runtimeapi.NetworkUsage{Timestamp: n.at.UnixNano()}
	for _, i := range n.ifaces {
		s := &runtimeapi.NetworkInterfaceUsage{
			Name:     i.name,
			RxBytes:  u64(i.rxBytes),
			RxErrors: u64(i.rxErrors),
			TxBytes:  u64(i.txBytes),
			TxErrors: u64(i.txErrors),
		}
		u.Interfaces = append(u.Interfaces, s)
		if i.name == "eth0" {
			u.DefaultInterface = s
		}
	}
	if u.DefaultInterface == nil && len(u.Interfaces) > 0 {
		u.DefaultInterface = u.Interfaces[0]
	}
	return u
}

// sum adds up the cgroup samples of a pod: counters and usages add; the
// limits of a sum are unknown (the pod's cgroup parent may set one that no
// container shows), so none is kept, and swap counts as accounted only if
// it is for every part. The timestamp is the latest part's. nil for no
// parts.
func sum(parts []*cgroups.Stats) *cgroups.Stats {
	var out *cgroups.Stats
	for _, p := range parts {
		if p == nil {
			continue
		}
		if out == nil {
			out = &cgroups.Stats{Timestamp: p.Timestamp, Swap: cgroups.SwapStats{Accounted: true}}
		}
		if p.Timestamp.After(out.Timestamp) {
			out.Timestamp = p.Timestamp
		}
		c, pc := &out.CPU, p.CPU
		c.UsageNanos += pc.UsageNanos
		c.UserNanos += pc.UserNanos
		c.SystemNanos += pc.SystemNanos
		c.Periods += pc.Periods
		c.ThrottledPeriods += pc.ThrottledPeriods
		c.ThrottledNanos += pc.ThrottledNanos
		m, pm := &out.Memory, p.Memory
		m.Usage += pm.Usage
		m.WorkingSet += pm.WorkingSet
		m.RSS += pm.RSS
		m.Cache += pm.Cache
		m.MappedFile += pm.MappedFile
		m.PageFaults += pm.PageFaults
		m.MajorPageFaults += pm.MajorPageFaults
		m.Failcnt += pm.Failcnt
		m.MaxUsage += pm.MaxUsage
		m.KernelUsage += pm.KernelUsage
		out.Swap.Accounted = out.Swap.Accounted && p.Swap.Accounted
		out.Swap.Usage += p.Swap.Usage
		out.OOMKills += p.OOMKills
		out.Pids.Current += p.Pids.Current
	}
	return out
}
