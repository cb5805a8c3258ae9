package cgroups

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// files is what the reader found of one cgroup: interface file name to
// contents. A file the cgroup does not have is absent. v1 file names carry
// their controller's prefix (memory.stat, cpu.stat, ...) so the files of
// all controllers share one map.
type files map[string][]byte

// v1Unlimited: v1 shows "no limit" as the page counter's maximum, LONG_MAX
// rounded down to a page (0x7FFFFFFFFFFFF000 with 4 KiB pages). Any value
// from 4 EiB up is taken to be that.
const v1Unlimited = 1 << 62

// uint parses a single-value file; an absent file is zero.
func (f files) uint(name string) (uint64, error) {
	data, ok := f[name]
	if !ok {
		return 0, nil
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %q", ErrMalformed, name, bytes.TrimSpace(data))
	}
	return v, nil
}

// v1Limit parses a v1 limit file (memory.limit_in_bytes, ...).
func (f files) v1Limit(name string) (Limit, error) {
	if _, ok := f[name]; !ok {
		return Limit{}, nil
	}
	v, err := f.uint(name)
	if err != nil || v >= v1Unlimited {
		return Limit{}, err
	}
	return Limit{Value: v, Set: true}, nil
}

// maxLimit parses a limit that is a number or "max" (all of v2, and v1's
// pids.max).
func (f files) maxLimit(name string) (Limit, error) {
	data, ok := f[name]
	if !ok || strings.TrimSpace(string(data)) == "max" {
		return Limit{}, nil
	}
	v, err := f.uint(name)
	if err != nil {
		return Limit{}, err
	}
	return Limit{Value: v, Set: true}, nil
}

// kv parses a flat keyed file ("key value" a line: memory.stat, cpu.stat,
// memory.events, memory.oom_control, ...); an absent file is empty.
func (f files) kv(name string) (map[string]uint64, error) {
	data := f[name]
	out := make(map[string]uint64, bytes.Count(data, []byte{'\n'}))
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		if len(line) == 0 {
			continue
		}
		key, val, ok := bytes.Cut(line, []byte{' '})
		v, err := strconv.ParseUint(string(val), 10, 64)
		if !ok || len(key) == 0 || err != nil {
			return nil, fmt.Errorf("%w: %s: line %q", ErrMalformed, name, line)
		}
		out[string(key)] = v
	}
	return out, nil
}

type devKey struct{ major, minor uint64 }

func parseDev(s string) (devKey, bool) {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return devKey{}, false
	}
	a, err1 := strconv.ParseUint(maj, 10, 64)
	b, err2 := strconv.ParseUint(min, 10, 64)
	return devKey{a, b}, err1 == nil && err2 == nil
}

// blkio parses a v1 blkio file ("8:0 Read 4096" lines, a "Total N" line)
// and adds its Read and Write figures to devs through add.
func (f files) blkio(name string, devs map[devKey]*IODevice, add func(d *IODevice, op string, v uint64)) error {
	sc := bufio.NewScanner(bytes.NewReader(f[name]))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || len(fields) == 2 && fields[0] == "Total" {
			continue
		}
		if len(fields) != 3 {
			return fmt.Errorf("%w: %s: line %q", ErrMalformed, name, sc.Text())
		}
		key, ok := parseDev(fields[0])
		v, err := strconv.ParseUint(fields[2], 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("%w: %s: line %q", ErrMalformed, name, sc.Text())
		}
		add(device(devs, key), fields[1], v)
	}
	return sc.Err()
}

// ioStat parses v2's io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..."
// a line. Keys it does not know (dbytes, dios, cost.*) are skipped.
func (f files) ioStat(name string, devs map[devKey]*IODevice) error {
	sc := bufio.NewScanner(bytes.NewReader(f[name]))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		key, ok := parseDev(fields[0])
		if !ok {
			return fmt.Errorf("%w: %s: line %q", ErrMalformed, name, sc.Text())
		}
		d := device(devs, key)
		for _, kv := range fields[1:] {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%w: %s: field %q", ErrMalformed, name, kv)
			}
			var dst *uint64
			switch k {
			case "rbytes":
				dst = &d.ReadBytes
			case "wbytes":
				dst = &d.WriteBytes
			case "rios":
				dst = &d.ReadOps
			case "wios":
				dst = &d.WriteOps
			default:
				continue
			}
			v, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return fmt.Errorf("%w: %s: field %q", ErrMalformed, name, kv)
			}
			*dst += v
		}
	}
	return sc.Err()
}

func device(devs map[devKey]*IODevice, k devKey) *IODevice {
	d, ok := devs[k]
	if !ok {
		d = &IODevice{Major: k.major, Minor: k.minor}
		devs[k] = d
	}
	return d
}

// ioStats sorts the devices and totals them.
func ioStats(devs map[devKey]*IODevice) IOStats {
	var s IOStats
	for _, k := range slices.SortedFunc(maps.Keys(devs), func(a, b devKey) int {
		return cmp.Or(cmp.Compare(a.major, b.major), cmp.Compare(a.minor, b.minor))
	}) {
		d := *devs[k]
		s.Devices = append(s.Devices, d)
		s.ReadBytes += d.ReadBytes
		s.WriteBytes += d.WriteBytes
		s.ReadOps += d.ReadOps
		s.WriteOps += d.WriteOps
	}
	return s
}

// hugetlb reads the hugetlb files of either version, telling them by name:
// v1 hugetlb.<size>.usage_in_bytes / max_usage_in_bytes / limit_in_bytes /
// failcnt, v2 hugetlb.<size>.current / max / events. The reservation files
// (hugetlb.<size>.rsvd.*) and numa_stat are not usage and are skipped.
func (f files) hugetlb() ([]HugetlbStats, error) {
	bySize := map[string]*HugetlbStats{}
	for name := range f {
		rest, ok := strings.CutPrefix(name, "hugetlb.")
		if !ok {
			continue
		}
		size, attr, ok := strings.Cut(rest, ".")
		if !ok || pageSizeBytes(size) == 0 {
			continue
		}
		h, ok := bySize[size]
		if !ok {
			h = &HugetlbStats{PageSize: size}
		}
		var err error
		switch attr {
		case "usage_in_bytes", "current":
			h.Usage, err = f.uint(name)
		case "max_usage_in_bytes":
			h.MaxUsage, err = f.uint(name)
		case "failcnt":
			h.Failcnt, err = f.uint(name)
		case "limit_in_bytes":
			h.Limit, err = f.v1Limit(name)
		case "max":
			h.Limit, err = f.maxLimit(name)
		case "events":
			var ev map[string]uint64
			ev, err = f.kv(name)
			h.Failcnt = ev["max"]
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		bySize[size] = h
	}
	var out []HugetlbStats
	for _, h := range bySize {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b HugetlbStats) int {
		return cmp.Compare(pageSizeBytes(a.PageSize), pageSizeBytes(b.PageSize))
	})
	return out, nil
}

// pageSizeBytes is the inverse of HugePageSizeName, in bytes; zero for a
// name that is not a page size.
func pageSizeBytes(name string) uint64 {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"KB", 10}, {"MB", 20}, {"GB", 30}} {
		if n, ok := strings.CutSuffix(name, u.suffix); ok {
			v, err := strconv.ParseUint(n, 10, 64)
			if err != nil || v == 0 {
				return 0
			}
			return v << u.shift
		}
	}
	return 0
}
