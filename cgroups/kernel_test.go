package cgroups_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cgroupsv3 "github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/cgroups/cgroupstest"
)

// TestDetectThisHost checks Detect against independent views of the same
// host: containerd's statfs-based mode, and the filesystem type of every
// mount it reports.
func TestDetectThisHost(t *testing.T) {
	h, err := cgroups.Detect()
	if errors.Is(err, cgroups.ErrNoCgroups) {
		t.Skip("no cgroup filesystem mounted")
	}
	if err != nil {
		t.Fatal(err)
	}
	// containerd only knows the conventional mount points; compare when
	// the host uses them.
	if h.Unified.Point == "/sys/fs/cgroup" || h.Unified.Point == "/sys/fs/cgroup/unified" || h.Unified.Point == "" {
		want := map[cgroupsv3.CGMode]cgroups.Mode{
			cgroupsv3.Legacy: cgroups.ModeLegacy, cgroupsv3.Hybrid: cgroups.ModeHybrid, cgroupsv3.Unified: cgroups.ModeUnified,
		}[cgroupsv3.Mode()]
		if h.Mode != want {
			t.Errorf("Mode = %v, containerd says %v", h.Mode, want)
		}
	}
	for ctrl, m := range h.V1 {
		var st unix.Statfs_t
		if err := unix.Statfs(m.Point, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
			t.Errorf("%s at %s: statfs type %#x, %v; want cgroup v1", ctrl, m.Point, st.Type, err)
		}
		if !strings.HasPrefix(ctrl, "name=") && !h.Has(ctrl) {
			t.Errorf("mounted controller %s missing from Controllers %v", ctrl, h.Controllers)
		}
	}
	if h.Unified.Point != "" {
		var st unix.Statfs_t
		if err := unix.Statfs(h.Unified.Point, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Errorf("unified at %s: statfs type %#x, %v; want cgroup2", h.Unified.Point, st.Type, err)
		}
	}
	_, statErr := os.Stat("/run/systemd/system")
	if h.SystemdInit != (statErr == nil) {
		t.Errorf("SystemdInit = %v, but stat /run/systemd/system: %v", h.SystemdInit, statErr)
	}
	if _, err := h.SelectDriver(true); h.SystemdInit == (err != nil) {
		t.Errorf("SelectDriver(systemd) = %v with SystemdInit %v", err, h.SystemdInit)
	}
	t.Logf("host: mode %v, controllers %v, swap accounting %v, huge pages %v, systemd %v",
		h.Mode, h.Controllers, h.SwapAccounting, h.HugePageSizes, h.SystemdInit)
}

// TestFromPidSelf locates the test's own cgroup and checks, in every
// directory found, that the kernel lists this process there.
func TestFromPidSelf(t *testing.T) {
	h, err := cgroups.Detect()
	if err != nil {
		t.Skip(err)
	}
	self, err := h.FromPid(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	me := strconv.Itoa(os.Getpid())
	for _, dir := range self.Dirs() {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Fields(string(data)), me) {
			t.Errorf("pid %s not in %s/cgroup.procs", me, dir)
		}
	}
	if _, err := h.FromPid(1 << 30); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("FromPid(no such pid) = %v, want not-exist", err)
	}
}

// TestStatsOfBusyProcess runs a CPU-bound shell in a fresh cgroup and reads
// its stats from the kernel.
func TestStatsOfBusyProcess(t *testing.T) {
	cg := cgroupstest.New(t)
	cgroupstest.Write(t, cg, "pids", "pids.max", "50")
	cgroupstest.LimitMemory(t, cg, 64<<20)
	// 8 MiB held in a shell variable, a marker file, then a busy loop.
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := cgroupstest.Start(t, cg, cgroupstest.Busybox, "sh", "-c",
		`x=$(head -c 8388608 /dev/zero | tr '\0' a); echo > "$0"; while :; do :; done`, ready)
	waitForFile(t, ready)
	waitForPids(t, cg, []int{cmd.Process.Pid}) // the $(...) subshell is reaped

	first := waitForCPU(t, cg, 0, 20*time.Millisecond)
	second := waitForCPU(t, cg, first.CPU.UsageNanos, 50*time.Millisecond)

	if second.CPU.UserNanos+second.CPU.SystemNanos == 0 {
		t.Errorf("no user or system time: %+v", second.CPU)
	}
	nc, ok := cgroups.NanoCores(first, second)
	if !ok || nc == 0 || nc > uint64(runtime.NumCPU())*11e8 {
		t.Errorf("NanoCores = %d, %v for one busy loop on %d CPUs", nc, ok, runtime.NumCPU())
	}
	m := second.Memory
	if m.Usage < 8<<20 || m.WorkingSet > m.Usage || m.RSS < 8<<20 || m.RSS > m.Usage || m.PageFaults < 2048 {
		t.Errorf("memory figures of a running shell: %+v", m)
	}
	if m.Limit != (cgroups.Limit{Value: 64 << 20, Set: true}) {
		t.Errorf("memory limit = %+v, want 64MiB", m.Limit)
	}
	if sw := second.Swap; sw.Accounted && (sw.Limit != cgroups.Limit{Value: 0, Set: true}) {
		t.Errorf("memory+swap capped at the memory limit, swap limit = %+v, want 0", sw.Limit)
	}
	if second.Pids.Current != 1 || second.Pids.Limit != (cgroups.Limit{Value: 50, Set: true}) {
		t.Errorf("pids = %+v, want 1 of 50", second.Pids)
	}
	pids, err := cg.Pids()
	if err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Pids() = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	if second.OOMKills != 0 {
		t.Errorf("OOMKills = %d without any OOM", second.OOMKills)
	}
}

// waitForFile polls until path exists.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForPids polls until exactly want are in cg.
func waitForPids(t *testing.T, cg cgroups.Cgroup, want []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := cg.Pids()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(pids, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pids %v, want %v", pids, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForCPU samples cg until its CPU usage has grown by at least d past
// base.
func waitForCPU(t *testing.T, cg cgroups.Cgroup, base uint64, d time.Duration) cgroups.Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := cgroups.ReadStats(cg)
		if err != nil {
			t.Fatal(err)
		}
		if s.CPU.UsageNanos >= base+uint64(d) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU usage stuck at %d ns", s.CPU.UsageNanos)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOOMKillCounted makes a process allocate past its cgroup's limit and
// checks that the kernel's kill is counted, by OOMKills and by ReadStats.
func TestOOMKillCounted(t *testing.T) {
	cg := cgroupstest.New(t)
	cgroupstest.LimitMemory(t, cg, 16<<20)
	before, err := cgroups.OOMKills(cg)
	if err != nil {
		t.Fatal(err)
	}
	// tail keeps the whole of a line in memory; /dev/zero has no newline.
	cmd := cgroupstest.Start(t, cg, cgroupstest.Busybox, "tail", "/dev/zero")
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("tail /dev/zero under 16MiB ended with %v, want SIGKILL", err)
	}
	after, err := cgroups.OOMKills(cg)
	if err != nil {
		t.Fatal(err)
	}
	if after != before+1 {
		t.Errorf("OOMKills went %d -> %d, want one kill", before, after)
	}
	s, err := cgroups.ReadStats(cg)
	if err != nil {
		t.Fatal(err)
	}
	if s.OOMKills != after {
		t.Errorf("ReadStats OOMKills = %d, OOMKills = %d", s.OOMKills, after)
	}
	if s.Memory.MaxUsage != 0 && (s.Memory.MaxUsage > 16<<20 || s.Memory.MaxUsage < 8<<20) {
		t.Errorf("peak usage %d, want close to the 16MiB limit", s.Memory.MaxUsage)
	}
}

// TestOOMGroupKill needs cgroup v2's memory.oom.group: the whole cgroup is
// killed together, and memory.events counts oom_group_kill.
func TestOOMGroupKill(t *testing.T) {
	h, err := cgroups.Detect()
	if err != nil {
		t.Skip(err)
	}
	if h.Mode != cgroups.ModeUnified {
		t.Skipf("needs the v2 memory controller; this host is %v (cgroup2 at %q offers only %q)",
			h.Mode, h.Unified.Point, v2Controllers(h))
	}
	cg := cgroupstest.New(t)
	cgroupstest.LimitMemory(t, cg, 16<<20)
	cgroupstest.Write(t, cg, "memory", "memory.oom.group", "1")
	sleeper := cgroupstest.Start(t, cg, cgroupstest.Busybox, "sleep", "1000")
	cgroupstest.WaitInside(t, cg, sleeper.Process.Pid)
	hog := cgroupstest.Start(t, cg, cgroupstest.Busybox, "tail", "/dev/zero")
	_ = hog.Wait()
	if err := sleeper.Wait(); err == nil {
		t.Error("the sleeper survived a group OOM kill")
	}
	kills, err := cgroups.OOMKills(cg)
	if err != nil {
		t.Fatal(err)
	}
	// two processes killed (oom_kill 2) in one group kill (oom_group_kill 1)
	if kills < 3 {
		t.Errorf("OOMKills = %d after a group kill of two processes, want 3", kills)
	}
}

func v2Controllers(h cgroups.Host) string {
	data, _ := os.ReadFile(filepath.Join(h.Unified.Point, "cgroup.controllers"))
	return strings.TrimSpace(string(data))
}

// TestRemoveBusyThenEmpty: the kernel refuses to remove a cgroup with a
// process in it; once the process is gone, Remove takes every directory.
func TestRemoveBusyThenEmpty(t *testing.T) {
	cg := cgroupstest.New(t)
	cmd := cgroupstest.Start(t, cg, cgroupstest.Busybox, "sleep", "1000")
	cgroupstest.WaitInside(t, cg, cmd.Process.Pid)

	if err := cg.Remove(); !errors.Is(err, cgroups.ErrBusy) {
		t.Fatalf("Remove with a live process = %v, want ErrBusy", err)
	}
	if !cg.Exists() {
		t.Fatal("a busy cgroup was removed")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := cg.Remove(); err != nil {
		t.Fatalf("Remove after the process ended: %v", err)
	}
	if cg.Exists() {
		t.Errorf("Exists after Remove: %v", cg.Dirs())
	}
	if _, err := cgroups.ReadStats(cg); !errors.Is(err, cgroups.ErrNotExist) {
		t.Errorf("ReadStats of a removed cgroup = %v, want ErrNotExist", err)
	}
	if _, err := cgroups.OOMKills(cg); !errors.Is(err, cgroups.ErrNotExist) {
		t.Errorf("OOMKills of a removed cgroup = %v, want ErrNotExist", err)
	}
}

// TestRemoveChildCgroups: a leaked container cgroup may hold children
// (a container that made its own); Remove takes them first.
func TestRemoveChildCgroups(t *testing.T) {
	cg := cgroupstest.New(t)
	for _, d := range cg.Dirs() {
		if err := os.MkdirAll(filepath.Join(d, "inner", "deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
	if cg.Exists() {
		t.Errorf("Exists after Remove: %v", cg.Dirs())
	}
}
