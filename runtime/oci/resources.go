package oci

import (
	"maps"
	"path"
	"regexp"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CgroupsPath spells the cgroup of the sandbox or container id under
// parent (the pod's linux.cgroup_parent) for the host's driver:
//
//   - cgroupfs: "<parent>/<id>"; an empty parent is Host.DefaultCgroupParent
//     or DefaultCgroupfsParent; a parent whose last element is a ".slice"
//     is a systemd name, refused;
//   - systemd: "<slice>:logbook:<id>", the slice being the last element of
//     the parent (kubelets send "/kubepods.slice/.../x.slice" or a bare
//     "x.slice"); an empty parent is Host.DefaultCgroupParent or
//     DefaultSystemdParent; a parent that is not a ".slice" is refused.
func CgroupsPath(host Host, parent, id string) (string, error) {
	field := "linux.cgroup_parent"
	mismatch := invalidf
	if parent == "" {
		parent, field, mismatch = host.DefaultCgroupParent, "the default cgroup parent", badInputf
	}
	if strings.ContainsAny(parent, "\x00\n") {
		return "", mismatch("%s %q contains a NUL or newline", field, parent)
	}
	for _, el := range strings.Split(parent, "/") {
		if el == ".." {
			return "", mismatch("%s %q contains \"..\"", field, parent)
		}
	}
	switch host.CgroupDriver {
	case Systemd:
		if parent == "" {
			parent = DefaultSystemdParent
		}
		slice := path.Base(parent)
		if !strings.HasSuffix(slice, ".slice") || slice == ".slice" || strings.Contains(slice, ":") {
			return "", mismatch("%s %q is not a systemd slice (\"<name>.slice\"), but the cgroup driver is systemd", field, parent)
		}
		return slice + ":" + SystemdScopePrefix + ":" + id, nil
	case Cgroupfs, "":
		if parent == "" {
			parent = DefaultCgroupfsParent
		}
		if strings.HasSuffix(path.Base(parent), ".slice") {
			return "", mismatch("%s %q is a systemd slice, but the cgroup driver is cgroupfs", field, parent)
		}
		return path.Join("/", parent, id), nil
	default:
		return "", badInputf("cgroup driver %q is neither cgroupfs nor systemd", host.CgroupDriver)
	}
}

// Bounds the kernel (CFS bandwidth control) or a starting runc puts on
// resources; a value outside them would fail only once the container's
// cgroup is being written.
const (
	minCPUPeriod = 1000    // µs: cpu.cfs_period_us >= 1ms
	maxCPUPeriod = 1000000 // µs: and <= 1s
	minCPUQuota  = 1000    // µs: cpu.cfs_quota_us >= 1ms, or -1
	// MinMemoryLimit is the lowest memory limit a container may have
	// (Docker's): below it runc's own init does not fit, and the kernel
	// refuses a limit under what the cgroup already uses.
	MinMemoryLimit = 6 << 20
)

var (
	// "2MB", "1GB", "64KB": the <hugepagesize> of hugetlb.<size>.limit_in_bytes.
	hugepageSizeRE = regexp.MustCompile(`^[1-9][0-9]*[KMGTP]B$`)
	// A cpuset list: "0-3,5,7-8".
	cpusetRE = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)
)

// LinuxResources converts CRI resources into the spec's, field by field; 0
// (or "") means "not set" in the CRI and stays unset. field names the
// request's field in errors.
//
// Memory and swap follow cgroup v1: memory_swap_limit_in_bytes is the limit
// of memory+swap, and with a memory limit but no swap limit the two are
// made equal, so a container does not swap unless asked to (containerd's
// rule). Swap limits are left out on hosts without swap accounting, where
// runc could not write them.
func LinuxResources(r *runtimeapi.LinuxContainerResources, host Host, field string) (*specs.LinuxResources, error) {
	out := &specs.LinuxResources{}
	if r == nil {
		return out, nil
	}
	var cpu specs.LinuxCPU
	cpuSet := false
	if p := r.GetCpuPeriod(); p != 0 {
		if p < 0 {
			return nil, invalidf("%s.cpu_period %d is negative", field, p)
		}
		if p < minCPUPeriod || p > maxCPUPeriod {
			return nil, invalidf("%s.cpu_period %d is outside [%d, %d] microseconds", field, p, minCPUPeriod, maxCPUPeriod)
		}
		v := uint64(p)
		cpu.Period, cpuSet = &v, true
	}
	if q := r.GetCpuQuota(); q != 0 {
		if q < -1 {
			return nil, invalidf("%s.cpu_quota %d is negative (only -1, unlimited, is allowed)", field, q)
		}
		if q > 0 && q < minCPUQuota {
			return nil, invalidf("%s.cpu_quota %d is below the kernel's minimum of %d microseconds", field, q, minCPUQuota)
		}
		cpu.Quota, cpuSet = &q, true
	}
	if s := r.GetCpuShares(); s != 0 {
		if s < 0 {
			return nil, invalidf("%s.cpu_shares %d is negative", field, s)
		}
		v := uint64(s)
		cpu.Shares, cpuSet = &v, true
	}
	if c := r.GetCpusetCpus(); c != "" {
		if !cpusetRE.MatchString(c) {
			return nil, invalidf("%s.cpuset_cpus %q is not a cpu list like \"0-3,5\"", field, c)
		}
		if !listWithin(c, host.CPUs) {
			return nil, invalidf("%s.cpuset_cpus %q names CPUs this node does not have (online: %s)", field, c, host.CPUs)
		}
		cpu.Cpus, cpuSet = c, true
	}
	if m := r.GetCpusetMems(); m != "" {
		if !cpusetRE.MatchString(m) {
			return nil, invalidf("%s.cpuset_mems %q is not a node list like \"0-1\"", field, m)
		}
		if !listWithin(m, host.MemoryNodes) {
			return nil, invalidf("%s.cpuset_mems %q names memory nodes this node does not have (online: %s)", field, m, host.MemoryNodes)
		}
		cpu.Mems, cpuSet = m, true
	}
	if cpuSet {
		out.CPU = &cpu
	}

	limit, swap := r.GetMemoryLimitInBytes(), r.GetMemorySwapLimitInBytes()
	if limit < 0 {
		return nil, invalidf("%s.memory_limit_in_bytes %d is negative", field, limit)
	}
	if limit > 0 && limit < MinMemoryLimit {
		return nil, invalidf("%s.memory_limit_in_bytes %d is below the minimum of %d (6 MiB)", field, limit, MinMemoryLimit)
	}
	if swap < -1 {
		return nil, invalidf("%s.memory_swap_limit_in_bytes %d is negative (only -1, unlimited, is allowed)", field, swap)
	}
	if swap > 0 && limit == 0 {
		return nil, invalidf("%s.memory_swap_limit_in_bytes is set without memory_limit_in_bytes", field)
	}
	if swap > 0 && swap < limit {
		return nil, invalidf("%s.memory_swap_limit_in_bytes %d is below memory_limit_in_bytes %d (it is the limit of memory+swap)", field, swap, limit)
	}
	if limit > 0 {
		mem := &specs.LinuxMemory{Limit: &limit}
		if host.SwapAccounting {
			s := limit
			if swap != 0 {
				s = swap
			}
			mem.Swap = &s
		}
		out.Memory = mem
	}

	for i, h := range r.GetHugepageLimits() {
		if !hugepageSizeRE.MatchString(h.GetPageSize()) {
			return nil, invalidf("%s.hugepage_limits[%d].page_size %q is not like \"2MB\" or \"1GB\"", field, i, h.GetPageSize())
		}
		out.HugepageLimits = append(out.HugepageLimits, specs.LinuxHugepageLimit{Pagesize: h.GetPageSize(), Limit: h.GetLimit()})
	}

	if u := r.GetUnified(); len(u) > 0 {
		if !host.CgroupV2 {
			return nil, unsupportedf("%s.unified: cgroup v2 resources on a host whose cgroups are v1", field)
		}
		for k, v := range u {
			if k == "" || strings.ContainsAny(k, "/\x00") || !strings.Contains(k, ".") || strings.IndexByte(v, 0) >= 0 {
				return nil, invalidf("%s.unified: %q is not a cgroup v2 file name", field, k)
			}
		}
		out.Unified = maps.Clone(u)
	}
	return out, nil
}

// OOMScoreAdj checks an oom_score_adj and applies Host's restriction:
// values below Host.MinOOMScoreAdj are raised to it.
func OOMScoreAdj(v int64, host Host, field string) (int, error) {
	if v < -1000 || v > 1000 {
		return 0, invalidf("%s %d is outside [-1000, 1000]", field, v)
	}
	adj := int(v)
	if host.RestrictOOMScoreAdj && adj < host.MinOOMScoreAdj {
		adj = min(host.MinOOMScoreAdj, 1000)
	}
	return adj, nil
}

func withPidsLimit(r *specs.LinuxResources, host Host) {
	if host.PidsLimit > 0 {
		l := host.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &l}
	}
}

// listWithin tells whether every number of the cpu or node list req (which
// matched cpusetRE) is in the list have; an empty have knows nothing and
// admits everything.
func listWithin(req, have string) bool {
	if have == "" {
		return true
	}
	haveRanges, ok := parseList(have)
	if !ok {
		return true
	}
	reqRanges, ok := parseList(req)
	if !ok {
		return false
	}
	for _, r := range reqRanges {
		// A range is within if it is covered by the union of have's
		// ranges: walk them from r's start.
		next := r[0]
		for progress := true; progress && next <= r[1]; {
			progress = false
			for _, h := range haveRanges {
				if h[0] <= next && next <= h[1] {
					if h[1] >= r[1] {
						next = r[1] + 1
					} else {
						next = h[1] + 1
					}
					progress = true
					break
				}
			}
		}
		if next <= r[1] {
			return false
		}
	}
	return true
}

// parseList reads "0-3,5" into inclusive ranges.
func parseList(s string) ([][2]uint64, bool) {
	var out [][2]uint64
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 32); err != nil || b < a {
				return nil, false
			}
		}
		out = append(out, [2]uint64{a, b})
	}
	return out, true
}
