package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFromRuncStateFixture(t *testing.T) {
	data, err := os.ReadFile(fixture(t, "runc", "state-hybrid.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromRuncState(data)
	if err != nil {
		t.Fatal(err)
	}
	const p = "/logbook-h8probe/c1"
	want := Cgroup{
		V1: map[string]string{
			"blkio": "/sys/fs/cgroup/blkio" + p, "cpu": "/sys/fs/cgroup/cpu" + p,
			"cpuacct": "/sys/fs/cgroup/cpuacct" + p, "cpuset": "/sys/fs/cgroup/cpuset" + p,
			"devices": "/sys/fs/cgroup/devices" + p, "freezer": "/sys/fs/cgroup/freezer" + p,
			"memory": "/sys/fs/cgroup/memory" + p, "name=systemd": "/sys/fs/cgroup/systemd" + p,
			"pids": "/sys/fs/cgroup/pids" + p,
		},
		Unified: "/sys/fs/cgroup/unified" + p,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FromRuncState:\n got %+v\nwant %+v", got, want)
	}
	if got.IsV2() {
		t.Error("a hybrid cgroup reports v2")
	}
	if d, _ := got.Dir("memory"); d != want.V1["memory"] {
		t.Errorf("Dir(memory) = %q", d)
	}
	if dirs := got.Dirs(); len(dirs) != 10 || !slices.IsSorted(dirs) {
		t.Errorf("Dirs() = %v, want the 10 directories sorted", dirs)
	}
	back, err := FromPaths(got.Paths())
	if err != nil || !reflect.DeepEqual(back, got) {
		t.Errorf("FromPaths(Paths()) = %+v, %v; want the same cgroup", back, err)
	}
}

func TestLoadRuncState(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "c1"), 0o700); err != nil {
		t.Fatal(err)
	}
	state := `{"id":"c1","cgroup_paths":{"":"/sys/fs/cgroup/kubepods/c1"}}`
	if err := os.WriteFile(filepath.Join(root, "c1", "state.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadRuncState(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsV2() || c.Unified != "/sys/fs/cgroup/kubepods/c1" {
		t.Errorf("v2 state gave %+v", c)
	}
	if d, ok := c.Dir("memory"); !ok || d != c.Unified {
		t.Errorf("v2 Dir(memory) = %q, %v; want the unified dir", d, ok)
	}
	if _, err := LoadRuncState(root, "missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing state: %v", err)
	}
}

func TestFromRuncStateInvalid(t *testing.T) {
	for name, data := range map[string]string{
		"not json":        `{"cgroup_paths":`,
		"no cgroup_paths": `{"id":"x"}`,
		"relative path":   `{"cgroup_paths":{"memory":"sys/fs/cgroup/memory/x"}}`,
		"unclean path":    `{"cgroup_paths":{"memory":"/sys/fs/cgroup/memory/../x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if c, err := FromRuncState([]byte(data)); !errors.Is(err, ErrInvalidState) {
				t.Errorf("FromRuncState = %+v, %v; want ErrInvalidState", c, err)
			}
		})
	}
	if _, err := FromPaths(nil); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("FromPaths(nil) = %v, want ErrInvalidPath", err)
	}
}

func TestResolve(t *testing.T) {
	h := Host{
		Mode: ModeHybrid,
		V1: map[string]Mount{
			"cpu":          {"/sys/fs/cgroup/cpu,cpuacct", "/"},
			"cpuacct":      {"/sys/fs/cgroup/cpu,cpuacct", "/"},
			"memory":       {"/sys/fs/cgroup/memory", "/"},
			"name=systemd": {"/sys/fs/cgroup/systemd", "/"},
		},
		Unified: Mount{"/sys/fs/cgroup/unified", "/"},
	}
	// As this project's test shell sees itself: memory nested, the rest at
	// the root; net_cls is listed by the kernel but not mounted.
	proc := "10:net_cls,net_prio:/\n9:name=systemd:/\n4:memory:/process_api/f03b\n1:cpu,cpuacct:/\n0::/\n"
	got, err := h.resolve(strings.NewReader(proc))
	if err != nil {
		t.Fatal(err)
	}
	want := Cgroup{
		V1: map[string]string{
			"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
			"memory": "/sys/fs/cgroup/memory/process_api/f03b", "name=systemd": "/sys/fs/cgroup/systemd",
		},
		Unified: "/sys/fs/cgroup/unified",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolve:\n got %+v\nwant %+v", got, want)
	}
	if n := len(got.Dirs()); n != 4 {
		t.Errorf("co-mounted cpu,cpuacct counted twice: %d dirs %v", n, got.Dirs())
	}

	unified := Host{Mode: ModeUnified, Unified: Mount{"/sys/fs/cgroup", "/"}}
	got, err = unified.resolve(strings.NewReader("0::/kubepods/pod1/c1\n"))
	if err != nil || !reflect.DeepEqual(got, Cgroup{Unified: "/sys/fs/cgroup/kubepods/pod1/c1"}) {
		t.Errorf("unified resolve = %+v, %v", got, err)
	}
	if _, err := h.resolve(strings.NewReader("garbage\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
	nsHost := Host{Mode: ModeUnified, Unified: Mount{"/sys/fs/cgroup", "/kubepods"}}
	if _, err := nsHost.resolve(strings.NewReader("0::/system.slice\n")); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("cgroup outside the mount: %v, want ErrInvalidPath", err)
	}
}

// TestRemoveTree checks the order and tolerance of Remove on plain
// directories, which rmdir treats like cgroup directories once empty.
func TestRemoveTree(t *testing.T) {
	base := t.TempDir()
	a := filepath.Join(base, "a")
	b := filepath.Join(base, "b")
	for _, d := range []string{filepath.Join(a, "child", "grandchild"), filepath.Join(a, "child2"), b} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := Cgroup{V1: map[string]string{"memory": a, "cpu": b, "pids": filepath.Join(base, "never-created")}}
	if !c.Exists() {
		t.Fatal("Exists() = false with directories present")
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if c.Exists() {
		t.Error("Exists() = true after Remove")
	}
	for _, d := range []string{a, b} {
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", d, err)
		}
	}
	if err := c.Remove(); err != nil {
		t.Errorf("second Remove = %v, want nil (already gone)", err)
	}
}

func TestRemoveKeepsGoing(t *testing.T) {
	base := t.TempDir()
	full := filepath.Join(base, "full")
	empty := filepath.Join(base, "empty")
	for _, d := range []string{full, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A regular file makes rmdir fail (ENOTEMPTY), as a stuck cgroup would.
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Cgroup{V1: map[string]string{"memory": full, "cpu": empty}}.Remove()
	if err == nil || !strings.Contains(err.Error(), full) {
		t.Errorf("Remove = %v, want an error naming %s", err, full)
	}
	if _, serr := os.Lstat(empty); !os.IsNotExist(serr) {
		t.Errorf("the removable directory was left after another failed: %v", serr)
	}
}

func TestPidsFromFiles(t *testing.T) {
	base := t.TempDir()
	mem := filepath.Join(base, "memory")
	cpu := filepath.Join(base, "cpu")
	for dir, procs := range map[string]string{
		mem:                          "12\n7\n",
		filepath.Join(mem, "nested"): "30\n",
		cpu:                          "7\n12\n99\n",
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(procs), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Cgroup{V1: map[string]string{"memory": mem, "cpu": cpu}}.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{7, 12, 30, 99}; !slices.Equal(got, want) {
		t.Errorf("Pids() = %v, want %v", got, want)
	}
	if _, err := (Cgroup{Unified: filepath.Join(base, "gone")}).Pids(); !errors.Is(err, ErrNotExist) {
		t.Errorf("Pids of a removed cgroup = %v, want ErrNotExist", err)
	}
	if _, err := parsePids([]byte("1\nabc\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("parsePids(garbage) = %v, want ErrMalformed", err)
	}
}
