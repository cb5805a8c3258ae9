package oom_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/cgroups/cgroupstest"
	"github.com/logbook-cri/logbook/oom"
)

// recorder is a handler that keeps every event and signals each one.
type recorder struct {
	mu     sync.Mutex
	events []oom.Event
	ch     chan oom.Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan oom.Event, 64)} }

func (r *recorder) handle(e oom.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.ch <- e
}

func (r *recorder) all() []oom.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// next waits for the next event.
func (r *recorder) next(t *testing.T) oom.Event {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM event within 10s")
		return oom.Event{}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newWatcher(t *testing.T, r *recorder) *oom.Watcher {
	t.Helper()
	w, err := oom.New(r.handle, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// oomKill runs a process that allocates without bound in cg, and waits for
// the OOM killer to end it.
func oomKill(t *testing.T, cg cgroups.Cgroup) {
	t.Helper()
	cmd := cgroupstest.Start(t, cg, cgroupstest.Busybox, "tail", "/dev/zero")
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("tail /dev/zero ended with %v, want SIGKILL", err)
	}
}

func limitedCgroup(t *testing.T) cgroups.Cgroup {
	cg := cgroupstest.New(t)
	cgroupstest.LimitMemory(t, cg, 16<<20)
	return cg
}

// TestKillReported: a kill in a watched v1 cgroup is reported with its id,
// the new count and the time; a kill before Add is the baseline, not an
// event.
func TestKillReported(t *testing.T) {
	cg := limitedCgroup(t)
	oomKill(t, cg) // before Add: counter 1

	r := newRecorder()
	w := newWatcher(t, r)
	if err := w.Add("c1", cg); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	oomKill(t, cg)
	e := r.next(t)
	if e.ID != "c1" || e.OOMKills != 2 {
		t.Errorf("event = %+v, want c1 with count 2", e)
	}
	if e.Time.Before(before) || e.Time.After(time.Now()) {
		t.Errorf("event time %v not between the kill's start %v and now", e.Time, before)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.all(); len(got) != 1 {
		t.Errorf("events = %+v, want exactly one", got)
	}
}

// TestRemoveStopsNotifications: after Remove, kills in that cgroup are not
// reported, while another watched cgroup still is.
func TestRemoveStopsNotifications(t *testing.T) {
	removed, kept := limitedCgroup(t), limitedCgroup(t)
	r := newRecorder()
	w := newWatcher(t, r)
	for id, cg := range map[string]cgroups.Cgroup{"removed": removed, "kept": kept} {
		if err := w.Add(id, cg); err != nil {
			t.Fatal(err)
		}
	}
	w.Remove("removed")
	w.Remove("never-added") // no-op
	if got := w.Watched(); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("Watched() = %v, want [kept]", got)
	}
	oomKill(t, removed)
	oomKill(t, kept)
	if e := r.next(t); e.ID != "kept" {
		t.Fatalf("first event %+v, want the kept cgroup's", e)
	}
	// Close waits for the goroutine: every event it saw is delivered.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, e := range r.all() {
		if e.ID == "removed" {
			t.Errorf("event for a removed watch: %+v", e)
		}
	}
}

// TestWatchEndsWithCgroup: removing a watched v1 cgroup signals its
// eventfd; the watcher sees the cgroup gone and drops the watch.
func TestWatchEndsWithCgroup(t *testing.T) {
	cg := cgroupstest.New(t)
	r := newRecorder()
	w := newWatcher(t, r)
	if err := w.Add("gone", cg); err != nil {
		t.Fatal(err)
	}
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
	waitUnwatched(t, w, "gone")
	if err := w.Add("gone", limitedCgroup(t)); err != nil {
		t.Errorf("re-adding an ended id: %v", err)
	}
	if got := r.all(); len(got) != 0 {
		t.Errorf("events for a removal: %+v", got)
	}
}

func waitUnwatched(t *testing.T, w *oom.Watcher, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(w.Watched(), id) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still watched: %v", id, w.Watched())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseLeavesNothing: Close returns promptly with watches of both
// kinds in place, and leaves no fd and no goroutine behind.
func TestCloseLeavesNothing(t *testing.T) {
	cgs := []cgroups.Cgroup{cgroupstest.New(t), cgroupstest.New(t), cgroupstest.New(t)}
	v2 := fakeV2(t, 0, 0, 0)
	fdsBefore := openFDs(t)

	r := newRecorder()
	w, err := oom.New(r.handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, cg := range cgs {
		if err := w.Add(fmt.Sprint("v1-", i), cg); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Add("v2", v2); err != nil {
		t.Fatal(err)
	}
	w.Remove("v1-1")
	if n := openFDs(t); n != fdsBefore+3+3 {
		// epoll, wake eventfd, timerfd; two v1 eventfds, one inotify fd
		t.Errorf("%d fds open with the watcher, want %d", n, fdsBefore+6)
	}

	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if n := openFDs(t); n != fdsBefore {
		t.Errorf("%d fds open after Close, %d before New", n, fdsBefore)
	}
	waitNoGoroutine(t, "oom.(*Watcher).run")
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Add("late", cgs[0]); !errors.Is(err, oom.ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
	w.Remove("v1-0") // harmless after Close
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries) - 1 // the directory's own fd
}

func waitNoGoroutine(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if !strings.Contains(string(buf[:n]), fn) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutine %s still running:\n%s", fn, buf[:n])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAddErrors(t *testing.T) {
	cg := cgroupstest.New(t)
	r := newRecorder()
	w := newWatcher(t, r)
	fds := openFDs(t)
	gone := filepath.Join(t.TempDir(), "gone")
	for _, tt := range []struct {
		name string
		cg   cgroups.Cgroup
		want error
	}{
		{"no memory controller", cgroups.Cgroup{V1: map[string]string{"cpu": gone}}, cgroups.ErrNoController},
		{"v1 cgroup removed", cgroups.Cgroup{V1: map[string]string{"memory": gone}}, cgroups.ErrNotExist},
		{"v2 cgroup removed", cgroups.Cgroup{Unified: gone}, cgroups.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := w.Add("x", tt.cg); !errors.Is(err, tt.want) {
				t.Errorf("Add = %v, want %v", err, tt.want)
			}
		})
	}
	if err := w.Add("c", cg); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("c", cg); !errors.Is(err, oom.ErrAlreadyWatched) {
		t.Errorf("duplicate Add = %v, want ErrAlreadyWatched", err)
	}
	if got := w.Watched(); !slices.Equal(got, []string{"c"}) {
		t.Errorf("Watched() = %v, want only the good one", got)
	}
	// the good Add holds one eventfd; the failed ones hold nothing
	// (a failed v2 Add may leave the shared inotify fd open)
	if n := openFDs(t); n != fds+1 && n != fds+2 {
		t.Errorf("%d fds after Adds, %d before: a failed Add leaked", n, fds)
	}
}

// fakeV2 makes a directory with a memory.events file in cgroup v2's
// format, fixed-width so that rewriting it is one write of equal size.
func fakeV2(t *testing.T, oomCount, kills, groupKills int) cgroups.Cgroup {
	t.Helper()
	dir := t.TempDir()
	writeEvents(t, dir, oomCount, kills, groupKills)
	return cgroups.Cgroup{Unified: dir}
}

func writeEvents(t *testing.T, dir string, oomCount, kills, groupKills int) {
	t.Helper()
	content := fmt.Sprintf("low 0000\nhigh 0000\nmax 0000\noom %04d\noom_kill %04d\noom_group_kill %04d\n", oomCount, kills, groupKills)
	f, err := os.OpenFile(filepath.Join(dir, "memory.events"), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(content), 0); err != nil {
		t.Fatal(err)
	}
}

// TestV2MemoryEvents drives the v2 path with a memory.events file that the
// test rewrites as the kernel would. This host's cgroup2 mount has no
// memory controller, so the kernel's own writes are tested only where one
// exists (TestV2Kernel); this checks the inotify plumbing and that only
// kills count.
func TestV2MemoryEvents(t *testing.T) {
	a, b := fakeV2(t, 0, 0, 0), fakeV2(t, 0, 0, 0)
	r := newRecorder()
	var w *oom.Watcher
	w, err := oom.New(func(e oom.Event) {
		r.handle(e)
		if e.ID == "a" && e.OOMKills >= 2 {
			w.Remove(e.ID) // a handler may Remove
		}
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if err := w.Add("a", a); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("b", b); err != nil {
		t.Fatal(err)
	}

	writeEvents(t, a.Unified, 1, 0, 0) // an OOM without a kill
	writeEvents(t, a.Unified, 1, 1, 0) // a kill
	if e := r.next(t); e.ID != "a" || e.OOMKills != 1 {
		t.Fatalf("event %+v, want a with 1 kill (the oom line is not a kill)", e)
	}
	writeEvents(t, a.Unified, 2, 1, 1) // a group kill
	if e := r.next(t); e.ID != "a" || e.OOMKills != 2 {
		t.Fatalf("event %+v, want a with 2 (oom_kill + oom_group_kill)", e)
	}
	// The handler removed "a": its next kill is not reported, b's is.
	writeEvents(t, a.Unified, 3, 2, 1)
	writeEvents(t, b.Unified, 1, 1, 0)
	if e := r.next(t); e.ID != "b" || e.OOMKills != 1 {
		t.Fatalf("event %+v, want b with 1", e)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.all(); len(got) != 3 {
		t.Errorf("events %+v, want 3", got)
	}
}

// TestV2WatchEndsWithFile: when memory.events goes away (its cgroup was
// removed) the kernel drops the inotify watch and so does the watcher.
func TestV2WatchEndsWithFile(t *testing.T) {
	cg := fakeV2(t, 0, 0, 0)
	w := newWatcher(t, newRecorder())
	if err := w.Add("v2", cg); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cg.Unified, "memory.events")); err != nil {
		t.Fatal(err)
	}
	waitUnwatched(t, w, "v2")
}

// TestV2Kernel is the v1 kill test on a real cgroup v2 memory controller.
func TestV2Kernel(t *testing.T) {
	h, err := cgroups.Detect()
	if err != nil {
		t.Skip(err)
	}
	if h.Mode != cgroups.ModeUnified || !h.Has("memory") {
		data, _ := os.ReadFile(filepath.Join(h.Unified.Point, "cgroup.controllers"))
		t.Skipf("needs the cgroup v2 memory controller; this host is %v and its cgroup2 mount (%q) offers only %q",
			h.Mode, h.Unified.Point, strings.TrimSpace(string(data)))
	}
	cg := limitedCgroup(t)
	r := newRecorder()
	w := newWatcher(t, r)
	if err := w.Add("c2", cg); err != nil {
		t.Fatal(err)
	}
	oomKill(t, cg)
	if e := r.next(t); e.ID != "c2" || e.OOMKills != 1 {
		t.Errorf("event %+v, want c2 with 1", e)
	}
}

// TestOOMWithoutKillNotReported: with the v1 OOM killer disabled a cgroup
// enters OOM (the eventfd fires) but nothing is killed: no event.
func TestOOMWithoutKillNotReported(t *testing.T) {
	frozen, killed := limitedCgroup(t), limitedCgroup(t)
	if frozen.IsV2() {
		t.Skip("memory.oom_control's oom_kill_disable is cgroup v1 only")
	}
	cgroupstest.Write(t, frozen, "memory", "memory.oom_control", "1")
	r := newRecorder()
	w := newWatcher(t, r)
	for id, cg := range map[string]cgroups.Cgroup{"frozen": frozen, "killed": killed} {
		if err := w.Add(id, cg); err != nil {
			t.Fatal(err)
		}
	}
	// The shell's own string building faults in user space, where a v1
	// cgroup with the killer disabled makes the task wait under OOM (a
	// read(2) into fresh pages would just fail with ENOMEM).
	cgroupstest.Start(t, frozen, cgroupstest.Busybox, "sh", "-c",
		`x=$(head -c 67108864 /dev/zero | tr '\0' a)`)
	waitUnderOOM(t, frozen)
	oomKill(t, killed)
	if e := r.next(t); e.ID != "killed" {
		t.Fatalf("event %+v, want the killed cgroup's", e)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, e := range r.all() {
		if e.ID == "frozen" {
			t.Errorf("event for an OOM without a kill: %+v", e)
		}
	}
	if n, err := cgroups.OOMKills(frozen); err != nil || n != 0 {
		t.Errorf("OOMKills of the frozen cgroup = %d, %v; want 0", n, err)
	}
	// The frozen tasks are killed (not OOM-killed) by the cgroup's cleanup.
}

// waitUnderOOM polls memory.oom_control until the cgroup is under OOM.
func waitUnderOOM(t *testing.T, cg cgroups.Cgroup) {
	t.Helper()
	dir, _ := cg.Dir("memory")
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(filepath.Join(dir, "memory.oom_control"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "under_oom 1") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never under OOM: %s", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
