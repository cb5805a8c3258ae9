package cgroupstest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/cgroups"
)

// Busybox is the static busybox the test processes run.
const Busybox = "/bin/busybox"

// New creates an empty cgroup for t and removes it at the end of the test,
// after killing whatever is left in it. It skips the test when not root,
// or when the host offers no memory controller a test can use.
func New(t testing.TB) cgroups.Cgroup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cgroupstest: creating cgroups needs root")
	}
	host, err := cgroups.Detect()
	if err != nil {
		t.Skipf("cgroupstest: no cgroups on this host: %v", err)
	}
	self, err := host.FromPid(os.Getpid())
	if err != nil {
		t.Fatalf("cgroupstest: own cgroup: %v", err)
	}
	name := uniqueName(t)
	paths := map[string]string{}
	if host.Mode == cgroups.ModeUnified {
		ctrl, err := os.ReadFile(filepath.Join(self.Unified, "cgroup.subtree_control"))
		if err != nil || !slices.Contains(strings.Fields(string(ctrl)), "memory") {
			t.Skipf("cgroupstest: the memory controller is not delegated to children of %s", self.Unified)
		}
		paths[""] = filepath.Join(self.Unified, name)
	} else {
		// The controllers logbook reads stats from. cpuset is left out: a
		// new cpuset cgroup has no CPUs until cpuset.cpus and .mems are set.
		for _, ctrl := range []string{"memory", "cpu", "cpuacct", "pids", "blkio"} {
			if parent, ok := self.V1[ctrl]; ok {
				paths[ctrl] = filepath.Join(parent, name)
			}
		}
		if _, ok := paths["memory"]; !ok {
			t.Skip("cgroupstest: this host has no v1 memory controller")
		}
	}
	cg, err := cgroups.FromPaths(paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { destroy(t, cg) })
	for _, dir := range cg.Dirs() {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("cgroupstest: %v", err)
		}
	}
	return cg
}

func uniqueName(t testing.TB) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "logbook-test-" + hex.EncodeToString(b[:])
}

// destroy kills what is left in cg, waits until the kernel has emptied it,
// and removes it.
func destroy(t testing.TB, cg cgroups.Cgroup) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := cg.Pids()
		if errors.Is(err, cgroups.ErrNotExist) {
			return
		}
		if err != nil {
			t.Errorf("cgroupstest: %v", err)
			return
		}
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			t.Errorf("cgroupstest: processes %v still in %v", pids, cg.Dirs())
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cg.Remove(); err != nil {
		t.Errorf("cgroupstest: %v", err)
	}
}

// Start runs args in cg: a busybox shell writes its own pid into every
// cgroup.procs of cg, then execs args, so the command is inside the cgroup
// from its first instruction. The process is killed and reaped at the end
// of the test unless the test waited for it.
func Start(t testing.TB, cg cgroups.Cgroup, args ...string) *exec.Cmd {
	t.Helper()
	if _, err := os.Stat(Busybox); err != nil {
		t.Skipf("cgroupstest: %s is needed: %v", Busybox, err)
	}
	var procs []string
	for _, d := range cg.Dirs() {
		procs = append(procs, filepath.Join(d, "cgroup.procs"))
	}
	const enter = `for f in $CGROUPSTEST_PROCS; do echo $$ > "$f" || exit 111; done; exec "$@"`
	cmd := exec.Command(Busybox, append([]string{"sh", "-c", enter, "sh"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CGROUPSTEST_PROCS=" + strings.Join(procs, " ")}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cgroupstest: start %v: %v", args, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// WaitInside polls until pid is listed in every directory of cg (Start's
// shell enters them one by one), or fails the test after a few seconds.
func WaitInside(t testing.TB, cg cgroups.Cgroup, pid int) {
	t.Helper()
	want := strconv.Itoa(pid)
	deadline := time.Now().Add(5 * time.Second)
	for _, dir := range cg.Dirs() {
		for {
			data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			if err != nil {
				t.Fatalf("cgroupstest: %v", err)
			}
			if slices.Contains(strings.Fields(string(data)), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cgroupstest: pid %d never appeared in %s", pid, dir)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Write writes value to the interface file of controller in cg.
func Write(t testing.TB, cg cgroups.Cgroup, controller, file, value string) {
	t.Helper()
	dir, ok := cg.Dir(controller)
	if !ok {
		t.Fatalf("cgroupstest: no %s controller in %v", controller, cg.Dirs())
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		t.Fatalf("cgroupstest: %v", err)
	}
}

// LimitMemory caps cg's memory at limit bytes with no swap beyond it, on
// either cgroup version, so that exceeding it calls the OOM killer.
func LimitMemory(t testing.TB, cg cgroups.Cgroup, limit int64) {
	t.Helper()
	v := strconv.FormatInt(limit, 10)
	if cg.IsV2() {
		Write(t, cg, "memory", "memory.max", v)
		dir, _ := cg.Dir("memory")
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
			Write(t, cg, "memory", "memory.swap.max", "0")
		}
		return
	}
	Write(t, cg, "memory", "memory.limit_in_bytes", v)
	dir, _ := cg.Dir("memory")
	if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
		Write(t, cg, "memory", "memory.memsw.limit_in_bytes", v)
	}
}
