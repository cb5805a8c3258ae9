package cgroups

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func fixture(t *testing.T, parts ...string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// statsEqual compares samples without their timestamps.
func statsEqual(t *testing.T, got, want Stats) {
	t.Helper()
	got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats differ\n got: %+v\nwant: %+v", got, want)
	}
}

// TestReadStatsFixtures reads whole cgroups from testdata through the same
// reader as a live cgroup.
func TestReadStatsFixtures(t *testing.T) {
	v1 := func(ctrl string) string { return fixture(t, "v1", "runc-oom", ctrl) }
	tests := []struct {
		name string
		cg   Cgroup
		want Stats
	}{
		{
			name: "v1 hybrid runc container after an OOM kill",
			cg: Cgroup{
				V1: map[string]string{
					"cpu": v1("cpu"), "cpuacct": v1("cpuacct"), "memory": v1("memory"),
					"pids": v1("pids"), "blkio": v1("blkio"),
				},
				Unified: v1("unified"),
			},
			want: Stats{
				CPU: CPUStats{UsageNanos: 2451521346, UserNanos: 1749651519, SystemNanos: 662600093},
				Memory: MemoryStats{
					Usage: 733184, WorkingSet: 733184, RSS: 49152, PageFaults: 17283,
					MaxUsage: 67108864, KernelUsage: 237568, Limit: Limit{67108864, true},
				},
				// memsw limit == memory limit: no swap allowed at all.
				Swap:     SwapStats{Accounted: true, Usage: 0, Limit: Limit{0, true}},
				OOMKills: 1,
				Pids:     PidsStats{Current: 2, Limit: Limit{100, true}},
				IO: IOStats{
					ReadBytes: 8388608, WriteBytes: 8388608, ReadOps: 16, WriteOps: 16,
					Devices: []IODevice{{Major: 254, Minor: 0, ReadBytes: 8388608, WriteBytes: 8388608, ReadOps: 16, WriteOps: 16}},
				},
			},
		},
		{
			name: "v2 kernel 6 with swap, throttling, group OOM and hugetlb",
			cg:   Cgroup{Unified: fixture(t, "v2", "kernel6")},
			want: Stats{
				CPU: CPUStats{
					UsageNanos: 8814203000, UserNanos: 6120455000, SystemNanos: 2693748000,
					Periods: 1204, ThrottledPeriods: 311, ThrottledNanos: 4870112000,
				},
				Memory: MemoryStats{
					Usage: 43515904, WorkingSet: 43515904 - 8388608, RSS: 29360128, Cache: 12582912,
					MappedFile: 4194304, PageFaults: 52113, MajorPageFaults: 17, Failcnt: 312,
					MaxUsage: 67104768, KernelUsage: 1572864, Limit: Limit{67108864, true},
				},
				Swap: SwapStats{Accounted: true, Usage: 1048576, Limit: Limit{33554432, true}},
				// oom_kill 2 + oom_group_kill 1; the "oom 5" line is not kills.
				OOMKills: 3,
				Pids:     PidsStats{Current: 7, Limit: Limit{1024, true}},
				IO: IOStats{
					ReadBytes: 9437184 + 4096, WriteBytes: 16777216, ReadOps: 211, WriteOps: 33,
					Devices: []IODevice{
						{Major: 8, Minor: 16, ReadBytes: 4096, ReadOps: 1},
						{Major: 254, Minor: 0, ReadBytes: 9437184, WriteBytes: 16777216, ReadOps: 210, WriteOps: 33},
					},
				},
				Hugetlb: []HugetlbStats{
					{PageSize: "2MB"},
					{PageSize: "1GB", Usage: 1 << 30, Failcnt: 2, Limit: Limit{1 << 30, true}},
				},
			},
		},
		{
			name: "v2 kernel 5.15 without peak, kernel line or swap accounting",
			cg:   Cgroup{Unified: fixture(t, "v2", "kernel515")},
			want: Stats{
				CPU: CPUStats{UsageNanos: 15337000, UserNanos: 5112000, SystemNanos: 10225000},
				Memory: MemoryStats{
					Usage: 2981888, WorkingSet: 2981888 - 405504, RSS: 2355200, Cache: 405504,
					PageFaults: 1617,
					// kernel_stack + pagetables + percpu + sock + slab
					KernelUsage: 16384 + 61440 + 172032,
				},
				Pids: PidsStats{Current: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			got, err := ReadStats(tt.cg)
			if err != nil {
				t.Fatal(err)
			}
			if got.Timestamp.Before(before) || got.Timestamp.After(time.Now()) {
				t.Errorf("timestamp %v is not the time of reading", got.Timestamp)
			}
			statsEqual(t, got, tt.want)

			kills, err := OOMKills(tt.cg)
			if err != nil {
				t.Fatal(err)
			}
			if kills != tt.want.OOMKills {
				t.Errorf("OOMKills = %d, want %d as in the full sample", kills, tt.want.OOMKills)
			}
		})
	}
}

func TestReadStatsGone(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "removed")
	for _, cg := range []Cgroup{
		{V1: map[string]string{"memory": gone}},
		{Unified: gone},
	} {
		if _, err := ReadStats(cg); !errors.Is(err, ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadStats(%v) = %v, want ErrNotExist matching fs.ErrNotExist", cg, err)
		}
		if _, err := OOMKills(cg); !errors.Is(err, ErrNotExist) {
			t.Errorf("OOMKills(%v) = %v, want ErrNotExist", cg, err)
		}
	}
	if _, err := OOMKills(Cgroup{V1: map[string]string{"cpu": gone}}); !errors.Is(err, ErrNoController) {
		t.Errorf("OOMKills without memory = %v, want ErrNoController", err)
	}
	if _, err := ReadStats(Cgroup{}); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("ReadStats(zero) = %v, want ErrInvalidPath", err)
	}
}

// TestStatsV1 covers what the fixture does not: page-counter "unlimited",
// swap in use, a floored working set, old kernels, hierarchy totals.
func TestStatsV1(t *testing.T) {
	const unlimited = "9223372036854771712\n"
	tests := []struct {
		name  string
		files files
		check func(t *testing.T, s Stats)
	}{
		{
			name: "unlimited memory and memsw: no limits, swap still accounted",
			files: files{
				"memory.usage_in_bytes":       []byte("1000\n"),
				"memory.limit_in_bytes":       []byte(unlimited),
				"memory.memsw.usage_in_bytes": []byte("1500\n"),
				"memory.memsw.limit_in_bytes": []byte(unlimited),
				"pids.max":                    []byte("max\n"),
			},
			check: func(t *testing.T, s Stats) {
				want := SwapStats{Accounted: true, Usage: 500}
				if s.Swap != want {
					t.Errorf("swap = %+v, want %+v", s.Swap, want)
				}
				if s.Memory.Limit.Set || s.Pids.Limit.Set {
					t.Errorf("limits set: memory %+v pids %+v", s.Memory.Limit, s.Pids.Limit)
				}
			},
		},
		{
			name: "swap limit is memsw limit minus memory limit",
			files: files{
				"memory.usage_in_bytes":       []byte("100\n"),
				"memory.limit_in_bytes":       []byte("1000\n"),
				"memory.memsw.usage_in_bytes": []byte("350\n"),
				"memory.memsw.limit_in_bytes": []byte("3000\n"),
			},
			check: func(t *testing.T, s Stats) {
				want := SwapStats{Accounted: true, Usage: 250, Limit: Limit{2000, true}}
				if s.Swap != want {
					t.Errorf("swap = %+v, want %+v", s.Swap, want)
				}
				if avail, ok := s.Swap.Limit.Available(s.Swap.Usage); !ok || avail != 1750 {
					t.Errorf("available = %d, %v; want 1750, true", avail, ok)
				}
			},
		},
		{
			name: "no memsw files: swap not accounted",
			files: files{
				"memory.usage_in_bytes": []byte("100\n"),
				"memory.limit_in_bytes": []byte("1000\n"),
			},
			check: func(t *testing.T, s Stats) {
				if s.Swap != (SwapStats{}) {
					t.Errorf("swap = %+v, want zero (not accounted)", s.Swap)
				}
			},
		},
		{
			name: "working set floors at zero; totals win over local lines",
			files: files{
				"memory.usage_in_bytes": []byte("4096\n"),
				"memory.stat": []byte("rss 1\ncache 2\ninactive_file 3\npgfault 4\n" +
					"total_rss 10\ntotal_cache 20\ntotal_mapped_file 5\ntotal_inactive_file 8192\ntotal_pgfault 40\ntotal_pgmajfault 7\n"),
			},
			check: func(t *testing.T, s Stats) {
				want := MemoryStats{Usage: 4096, RSS: 10, Cache: 20, MappedFile: 5, PageFaults: 40, MajorPageFaults: 7}
				if s.Memory != want {
					t.Errorf("memory = %+v, want %+v", s.Memory, want)
				}
			},
		},
		{
			name: "cpuacct.stat ticks when usage_user/usage_sys are missing",
			files: files{
				"cpuacct.usage": []byte("5000000000\n"),
				"cpuacct.stat":  []byte("user 300\nsystem 150\n"),
				"cpu.stat":      []byte("nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n"),
			},
			check: func(t *testing.T, s Stats) {
				want := CPUStats{UsageNanos: 5e9, UserNanos: 3e9, SystemNanos: 1.5e9, Periods: 10, ThrottledPeriods: 4, ThrottledNanos: 123456}
				if s.CPU != want {
					t.Errorf("cpu = %+v, want %+v", s.CPU, want)
				}
			},
		},
		{
			name: "non-recursive throttle files when the recursive ones are missing",
			files: files{
				"blkio.throttle.io_service_bytes": []byte("8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Total 30\n8:16 Read 1\n8:16 Write 2\nTotal 33\n"),
				"blkio.throttle.io_serviced":      []byte("8:0 Read 1\n8:0 Write 2\n8:16 Read 3\n8:16 Write 4\nTotal 10\n"),
			},
			check: func(t *testing.T, s Stats) {
				want := IOStats{ReadBytes: 11, WriteBytes: 22, ReadOps: 4, WriteOps: 6, Devices: []IODevice{
					{Major: 8, Minor: 0, ReadBytes: 10, WriteBytes: 20, ReadOps: 1, WriteOps: 2},
					{Major: 8, Minor: 16, ReadBytes: 1, WriteBytes: 2, ReadOps: 3, WriteOps: 4},
				}}
				if !reflect.DeepEqual(s.IO, want) {
					t.Errorf("io = %+v, want %+v", s.IO, want)
				}
			},
		},
		{
			name: "v1 hugetlb files, reservations skipped",
			files: files{
				"hugetlb.2MB.usage_in_bytes":      []byte("4194304\n"),
				"hugetlb.2MB.max_usage_in_bytes":  []byte("6291456\n"),
				"hugetlb.2MB.limit_in_bytes":      []byte(unlimited),
				"hugetlb.2MB.failcnt":             []byte("3\n"),
				"hugetlb.2MB.rsvd.usage_in_bytes": []byte("999\n"),
				"hugetlb.64KB.usage_in_bytes":     []byte("65536\n"),
				"hugetlb.64KB.limit_in_bytes":     []byte("131072\n"),
			},
			check: func(t *testing.T, s Stats) {
				want := []HugetlbStats{
					{PageSize: "64KB", Usage: 65536, Limit: Limit{131072, true}},
					{PageSize: "2MB", Usage: 4194304, MaxUsage: 6291456, Failcnt: 3},
				}
				if !reflect.DeepEqual(s.Hugetlb, want) {
					t.Errorf("hugetlb = %+v, want %+v", s.Hugetlb, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := statsV1(tt.files)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestStatsV2(t *testing.T) {
	s, err := statsV2(files{
		"memory.current":      []byte("100\n"),
		"memory.max":          []byte("max\n"),
		"memory.swap.current": []byte("0\n"),
		"memory.swap.max":     []byte("max\n"),
		"memory.stat":         []byte("anon 10\nfile 90\ninactive_file 400\n"),
		"memory.events":       []byte("low 0\nhigh 0\nmax 0\noom 9\noom_kill 0\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Limit.Set || s.Swap.Limit.Set {
		t.Errorf(`"max" read as a limit: memory %+v swap %+v`, s.Memory.Limit, s.Swap.Limit)
	}
	if !s.Swap.Accounted {
		t.Error("swap with memory.swap.current is not accounted")
	}
	if s.Memory.WorkingSet != 0 {
		t.Errorf("working set = %d, want 0 (floored)", s.Memory.WorkingSet)
	}
	if s.OOMKills != 0 {
		t.Errorf(`OOMKills = %d: the "oom" line was counted as kills`, s.OOMKills)
	}
}

func TestMalformedFiles(t *testing.T) {
	for _, tt := range []struct {
		name  string
		v2    bool
		files files
	}{
		{"v1 usage not a number", false, files{"memory.usage_in_bytes": []byte("lots\n")}},
		{"v1 memory.stat three fields", false, files{"memory.stat": []byte("rss 1 2\n")}},
		{"v1 blkio bad device", false, files{"blkio.throttle.io_service_bytes_recursive": []byte("sda Read 1\n")}},
		{"v1 pids.max garbage", false, files{"pids.max": []byte("many\n")}},
		{"v2 cpu.stat negative", true, files{"cpu.stat": []byte("usage_usec -1\n")}},
		{"v2 io.stat bad field", true, files{"io.stat": []byte("8:0 rbytes\n")}},
		{"v2 io.stat bad value", true, files{"io.stat": []byte("8:0 rbytes=x\n")}},
		{"v2 hugetlb max garbage", true, files{"hugetlb.2MB.max": []byte("lots\n")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.v2 {
				_, err = statsV2(tt.files)
			} else {
				_, err = statsV1(tt.files)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestOOMKillCounters(t *testing.T) {
	for _, tt := range []struct {
		name    string
		v2      bool
		data    string
		want    uint64
		wantErr error
	}{
		{"v1 counter", false, "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n", 4, nil},
		{"v1 before 4.13 has no counter", false, "oom_kill_disable 0\nunder_oom 0\n", 0, ErrMalformed},
		{"v2 kills plus group kills, never oom", true, "low 0\nhigh 0\nmax 7\noom 11\noom_kill 2\noom_group_kill 1\n", 3, nil},
		{"v2 without group kill line", true, "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n", 1, nil},
		{"v2 malformed", true, "oom_kill x\n", 0, ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got uint64
			var err error
			if tt.v2 {
				got, err = oomKillsV2([]byte(tt.data))
			} else {
				got, err = oomKillsV1([]byte(tt.data))
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("kills = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestNanoCores(t *testing.T) {
	t0 := time.Unix(1000, 0)
	sample := func(at time.Duration, usage uint64) Stats {
		return Stats{Timestamp: t0.Add(at), CPU: CPUStats{UsageNanos: usage}}
	}
	for _, tt := range []struct {
		name      string
		prev, cur Stats
		want      uint64
		ok        bool
	}{
		{"one core busy", sample(0, 5e9), sample(time.Second, 6e9), 1e9, true},
		{"quarter core over 4s", sample(0, 0), sample(4*time.Second, 1e9), 25e7, true},
		{"two cores", sample(0, 0), sample(500*time.Millisecond, 1e9), 2e9, true},
		{"idle", sample(0, 7), sample(time.Second, 7), 0, true},
		{"same instant", sample(time.Second, 0), sample(time.Second, 10), 0, false},
		{"out of order", sample(2*time.Second, 0), sample(time.Second, 10), 0, false},
		{"counter reset", sample(0, 10), sample(time.Second, 5), 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NanoCores(tt.prev, tt.cur)
			if got != tt.want || ok != tt.ok {
				t.Errorf("NanoCores = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLimitAvailable(t *testing.T) {
	if v, ok := (Limit{}).Available(10); ok || v != 0 {
		t.Errorf("no limit: %d, %v", v, ok)
	}
	if v, ok := (Limit{Value: 100, Set: true}).Available(30); !ok || v != 70 {
		t.Errorf("limit 100 used 30: %d, %v", v, ok)
	}
	if v, ok := (Limit{Value: 100, Set: true}).Available(300); !ok || v != 0 {
		t.Errorf("over the limit: %d, %v; want 0, true", v, ok)
	}
}

// BenchmarkStatsV1Compute is the pure part of a sample: parsing the files
// of the v1 fixture already in memory.
func BenchmarkStatsV1Compute(b *testing.B) {
	f := files{}
	for _, ctrl := range []string{"cpu", "cpuacct", "memory", "pids", "blkio"} {
		dir, err := filepath.Abs(filepath.Join("testdata", "v1", "runc-oom", ctrl))
		if err != nil {
			b.Fatal(err)
		}
		if err := readFiles(f, dir, v1Files(ctrl)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := statsV1(f); err != nil {
			b.Fatal(err)
		}
	}
}
