package cgroups

import "fmt"

// The files the reader reads, by controller. Each entry lists
// alternatives: the first the kernel offers is read and the rest are not
// (older kernels lack the preferred files). Everything computed from them
// is in statsV1 and statsV2, pure functions of the files found.
func v1Files(controller string) [][]string {
	switch controller {
	case "cpu":
		return [][]string{{"cpu.stat"}}
	case "cpuacct":
		return [][]string{
			{"cpuacct.usage"},
			{"cpuacct.usage_user", "cpuacct.stat"},
			{"cpuacct.usage_sys"},
		}
	case "memory":
		return [][]string{
			{"memory.usage_in_bytes"}, {"memory.max_usage_in_bytes"}, {"memory.limit_in_bytes"},
			{"memory.failcnt"}, {"memory.stat"}, {"memory.oom_control"},
			{"memory.memsw.usage_in_bytes"}, {"memory.memsw.limit_in_bytes"},
			{"memory.kmem.usage_in_bytes"},
		}
	case "pids":
		return [][]string{{"pids.current"}, {"pids.max"}}
	case "blkio":
		return [][]string{
			{"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"},
			{"blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced"},
		}
	}
	return nil
}

func v2Files() [][]string {
	return [][]string{
		{"cpu.stat"},
		{"memory.current"}, {"memory.max"}, {"memory.peak"}, {"memory.stat"}, {"memory.events"},
		{"memory.swap.current"}, {"memory.swap.max"},
		{"pids.current"}, {"pids.max"},
		{"io.stat"},
	}
}

// conv reads values out of files, keeping the first error, so that a
// conversion reads as a list of assignments.
type conv struct {
	f   files
	err error
}

func (c *conv) keep(err error) {
	if c.err == nil {
		c.err = err
	}
}

func (c *conv) uint(name string) uint64 {
	v, err := c.f.uint(name)
	c.keep(err)
	return v
}

func (c *conv) kv(name string) map[string]uint64 {
	m, err := c.f.kv(name)
	c.keep(err)
	return m
}

func (c *conv) v1Limit(name string) Limit {
	l, err := c.f.v1Limit(name)
	c.keep(err)
	return l
}

func (c *conv) maxLimit(name string) Limit {
	l, err := c.f.maxLimit(name)
	c.keep(err)
	return l
}

func (c *conv) has(name string) bool {
	_, ok := c.f[name]
	return ok
}

// userHZ is the unit of cpuacct.stat: the kernel exports clock_t to user
// space in USER_HZ, 100 on every architecture logbook runs on.
const userHZ = 100

// statsV1 computes a sample from the files of a v1 cgroup.
func statsV1(f files) (Stats, error) {
	c := &conv{f: f}
	var s Stats

	// CPU: cpuacct counts usage, cpu counts CFS throttling.
	s.CPU.UsageNanos = c.uint("cpuacct.usage")
	if c.has("cpuacct.usage_user") && c.has("cpuacct.usage_sys") {
		s.CPU.UserNanos = c.uint("cpuacct.usage_user")
		s.CPU.SystemNanos = c.uint("cpuacct.usage_sys")
	} else {
		ticks := c.kv("cpuacct.stat")
		s.CPU.UserNanos = ticks["user"] * (1e9 / userHZ)
		s.CPU.SystemNanos = ticks["system"] * (1e9 / userHZ)
	}
	cpu := c.kv("cpu.stat")
	s.CPU.Periods = cpu["nr_periods"]
	s.CPU.ThrottledPeriods = cpu["nr_throttled"]
	s.CPU.ThrottledNanos = cpu["throttled_time"]

	// Memory: the total_ lines of memory.stat include child cgroups, as
	// memory.usage_in_bytes does.
	ms := c.kv("memory.stat")
	total := func(key string) uint64 {
		if v, ok := ms["total_"+key]; ok {
			return v
		}
		return ms[key]
	}
	m := &s.Memory
	m.Usage = c.uint("memory.usage_in_bytes")
	m.WorkingSet = sub0(m.Usage, total("inactive_file"))
	m.RSS = total("rss")
	m.Cache = total("cache")
	m.MappedFile = total("mapped_file")
	m.PageFaults = total("pgfault")
	m.MajorPageFaults = total("pgmajfault")
	m.Failcnt = c.uint("memory.failcnt")
	m.MaxUsage = c.uint("memory.max_usage_in_bytes")
	m.KernelUsage = c.uint("memory.kmem.usage_in_bytes")
	m.Limit = c.v1Limit("memory.limit_in_bytes")

	// Swap: v1 counts memory+swap together (memsw); swap alone is the
	// difference, and so is its limit.
	if c.has("memory.memsw.usage_in_bytes") {
		s.Swap.Accounted = true
		s.Swap.Usage = sub0(c.uint("memory.memsw.usage_in_bytes"), m.Usage)
		if memsw := c.v1Limit("memory.memsw.limit_in_bytes"); memsw.Set {
			s.Swap.Limit = Limit{Value: sub0(memsw.Value, m.Limit.Value), Set: true}
		}
	}
	s.OOMKills = c.kv("memory.oom_control")["oom_kill"]

	s.Pids.Current = c.uint("pids.current")
	s.Pids.Limit = c.maxLimit("pids.max")

	devs := map[devKey]*IODevice{}
	bytesFile, opsFile := "blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"
	if !c.has(bytesFile) {
		bytesFile, opsFile = "blkio.throttle.io_service_bytes", "blkio.throttle.io_serviced"
	}
	c.keep(f.blkio(bytesFile, devs, func(d *IODevice, op string, v uint64) {
		switch op {
		case "Read":
			d.ReadBytes += v
		case "Write":
			d.WriteBytes += v
		}
	}))
	c.keep(f.blkio(opsFile, devs, func(d *IODevice, op string, v uint64) {
		switch op {
		case "Read":
			d.ReadOps += v
		case "Write":
			d.WriteOps += v
		}
	}))
	s.IO = ioStats(devs)

	hugetlb, err := f.hugetlb()
	c.keep(err)
	s.Hugetlb = hugetlb
	return s, c.err
}

// statsV2 computes a sample from the files of a v2 cgroup.
func statsV2(f files) (Stats, error) {
	c := &conv{f: f}
	var s Stats

	cpu := c.kv("cpu.stat")
	s.CPU.UsageNanos = cpu["usage_usec"] * 1000
	s.CPU.UserNanos = cpu["user_usec"] * 1000
	s.CPU.SystemNanos = cpu["system_usec"] * 1000
	s.CPU.Periods = cpu["nr_periods"]
	s.CPU.ThrottledPeriods = cpu["nr_throttled"]
	s.CPU.ThrottledNanos = cpu["throttled_usec"] * 1000

	ms := c.kv("memory.stat")
	events := c.kv("memory.events")
	m := &s.Memory
	m.Usage = c.uint("memory.current")
	m.WorkingSet = sub0(m.Usage, ms["inactive_file"])
	m.RSS = ms["anon"]
	m.Cache = ms["file"]
	m.MappedFile = ms["file_mapped"]
	m.PageFaults = ms["pgfault"]
	m.MajorPageFaults = ms["pgmajfault"]
	m.Failcnt = events["max"]
	m.MaxUsage = c.uint("memory.peak")
	if k, ok := ms["kernel"]; ok {
		m.KernelUsage = k
	} else {
		// Kernels before 5.18 have no "kernel" line; its parts are these.
		m.KernelUsage = ms["kernel_stack"] + ms["pagetables"] + ms["percpu"] + ms["sock"] + ms["vmalloc"] + ms["slab"]
	}
	m.Limit = c.maxLimit("memory.max")

	if c.has("memory.swap.current") {
		s.Swap.Accounted = true
		s.Swap.Usage = c.uint("memory.swap.current")
		s.Swap.Limit = c.maxLimit("memory.swap.max")
	}
	// "oom" counts OOM situations, not kills: it is not a kill count.
	s.OOMKills = events["oom_kill"] + events["oom_group_kill"]

	s.Pids.Current = c.uint("pids.current")
	s.Pids.Limit = c.maxLimit("pids.max")

	devs := map[devKey]*IODevice{}
	c.keep(f.ioStat("io.stat", devs))
	s.IO = ioStats(devs)

	hugetlb, err := f.hugetlb()
	c.keep(err)
	s.Hugetlb = hugetlb
	return s, c.err
}

// oomKillsV1 and oomKillsV2 compute the OOM kill count alone.
func oomKillsV1(oomControl []byte) (uint64, error) {
	m, err := files{"memory.oom_control": oomControl}.kv("memory.oom_control")
	if err != nil {
		return 0, err
	}
	v, ok := m["oom_kill"]
	if !ok {
		return 0, fmt.Errorf("%w: memory.oom_control has no oom_kill line (kernel older than 4.13)", ErrMalformed)
	}
	return v, nil
}

func oomKillsV2(memoryEvents []byte) (uint64, error) {
	m, err := files{"memory.events": memoryEvents}.kv("memory.events")
	if err != nil {
		return 0, err
	}
	v, ok := m["oom_kill"]
	if !ok {
		return 0, fmt.Errorf("%w: memory.events has no oom_kill line", ErrMalformed)
	}
	return v + m["oom_group_kill"], nil
}
