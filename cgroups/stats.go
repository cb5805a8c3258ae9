package cgroups

import (
	"math"
	"time"
)

// Stats is one sample of a cgroup's counters: what CRI's ContainerStats and
// PodSandboxStats carry and what cAdvisor-style metrics are made of. The
// same fields mean the same thing on cgroup v1 and v2; where a kernel
// interface has no counterpart the field is zero, and the comment says so.
type Stats struct {
	// Timestamp is when the sample was read.
	Timestamp time.Time
	CPU       CPUStats
	Memory    MemoryStats
	Swap      SwapStats
	// OOMKills counts the processes the OOM killer ended in this cgroup
	// (v1: oom_kill of memory.oom_control; v2: oom_kill + oom_group_kill
	// of memory.events).
	OOMKills uint64
	Pids     PidsStats
	IO       IOStats
	// Hugetlb has one entry per huge page size the cgroup shows, smallest
	// size first.
	Hugetlb []HugetlbStats
}

// CPUStats are cumulative CPU counters, in nanoseconds.
type CPUStats struct {
	UsageNanos  uint64
	UserNanos   uint64
	SystemNanos uint64
	// Periods, ThrottledPeriods and ThrottledNanos are the CFS bandwidth
	// counters; zero without a quota.
	Periods          uint64
	ThrottledPeriods uint64
	ThrottledNanos   uint64
}

// MemoryStats are the memory controller's figures, in bytes (faults are
// counts).
type MemoryStats struct {
	// Usage is the memory charged to the cgroup, page cache included.
	Usage uint64
	// WorkingSet is Usage minus inactive file pages, floored at zero: what
	// cAdvisor and the kubelet's eviction manager call the working set.
	WorkingSet uint64
	// RSS is anonymous memory (v1 total_rss, v2 anon).
	RSS uint64
	// Cache is the page cache (v1 total_cache, v2 file).
	Cache uint64
	// MappedFile is file memory mapped into processes (v1
	// total_mapped_file, v2 file_mapped).
	MappedFile      uint64
	PageFaults      uint64
	MajorPageFaults uint64
	// Failcnt counts the times usage hit the limit (v1 memory.failcnt; v2
	// the "max" line of memory.events).
	Failcnt uint64
	// MaxUsage is the peak usage (v1 memory.max_usage_in_bytes, v2
	// memory.peak); zero where the kernel does not keep one.
	MaxUsage uint64
	// KernelUsage is kernel memory charged to the cgroup (v1
	// memory.kmem.usage_in_bytes, v2 the "kernel" line of memory.stat).
	KernelUsage uint64
	Limit       Limit
}

// SwapStats is swap alone, never memory plus swap.
type SwapStats struct {
	// Accounted reports whether the kernel accounts swap for this cgroup
	// at all; when false, Usage and Limit mean nothing.
	Accounted bool
	// Usage is the swap the cgroup uses (v1: memsw usage minus memory
	// usage, floored at zero; v2: memory.swap.current).
	Usage uint64
	// Limit is the swap the cgroup may use (v1: memsw limit minus memory
	// limit; v2: memory.swap.max), set only where such a limit exists.
	Limit Limit
}

// PidsStats is the pids controller's count and limit.
type PidsStats struct {
	Current uint64
	Limit   Limit
}

// IOStats are the block I/O counters: totals over all devices, and the
// figures of each device (sorted by major, minor). v1 reads the blkio
// throttle files, which this kernel fills only for devices with a throttle
// rule; v2 reads io.stat.
type IOStats struct {
	ReadBytes  uint64
	WriteBytes uint64
	ReadOps    uint64
	WriteOps   uint64
	Devices    []IODevice
}

// IODevice is one block device's I/O counters.
type IODevice struct {
	Major, Minor uint64
	ReadBytes    uint64
	WriteBytes   uint64
	ReadOps      uint64
	WriteOps     uint64
}

// HugetlbStats is the use of one huge page size, in bytes.
type HugetlbStats struct {
	// PageSize is the size as the hugetlb files name it: "2MB", "1GB".
	PageSize string
	Usage    uint64
	// MaxUsage is the peak (v1 only; zero on v2).
	MaxUsage uint64
	// Failcnt counts allocations refused by the limit.
	Failcnt uint64
	Limit   Limit
}

// Limit is a cgroup ceiling. The zero Limit means there is none: the kernel
// shows "max" (v2) or its page-counter maximum (v1), or the cgroup has no
// such file.
type Limit struct {
	Value uint64
	Set   bool
}

// Available returns what is left under the limit, floored at zero, and
// whether there is a limit at all.
func (l Limit) Available(usage uint64) (uint64, bool) {
	if !l.Set {
		return 0, false
	}
	return sub0(l.Value, usage), true
}

// NanoCores is the average CPU use between two samples of the same cgroup
// in billionths of a core (CRI's usage_nano_cores). It is false when the
// samples cannot be compared: cur is not after prev, or the counter went
// backwards (the cgroup was recreated).
func NanoCores(prev, cur Stats) (uint64, bool) {
	elapsed := cur.Timestamp.Sub(prev.Timestamp)
	if elapsed <= 0 || cur.CPU.UsageNanos < prev.CPU.UsageNanos {
		return 0, false
	}
	used := float64(cur.CPU.UsageNanos - prev.CPU.UsageNanos)
	nc := used / float64(elapsed.Nanoseconds()) * 1e9
	if nc >= math.MaxUint64 {
		return math.MaxUint64, true
	}
	return uint64(nc), true
}

// sub0 is a-b floored at zero.
func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}
