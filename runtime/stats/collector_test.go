package stats

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/cgroups/cgroupstest"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// storeOf folds payloads into a live store, as the journal's commits do.
type storeOf struct {
	t     *testing.T
	store *projector.Store
	seq   uint64
}

func (s *storeOf) add(sandboxID, containerID string, m proto.Message) {
	s.t.Helper()
	typ, b, err := events.Encode(m)
	if err != nil {
		s.t.Fatal(err)
	}
	s.seq++
	s.store.ApplyRecords([]journal.Record{{Seq: s.seq, Time: time.Now().UnixNano(), Type: string(typ), SandboxID: sandboxID, ContainerID: containerID, Payload: b}})
	if s.store.Skipped() != 0 {
		s.t.Fatalf("record %d (%s) was not folded", s.seq, typ)
	}
}

func (s *storeOf) pod(id string, pid uint32, netns string) {
	s.add(id, "", &events.SandboxCreating{NetnsPath: netns, Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "pod-" + id, Namespace: "ns", Uid: id}, Labels: map[string]string{"pod": id}}})
	s.add(id, "", &events.SandboxReady{Pid: pid})
}

func (s *storeOf) container(sb, id string, labels map[string]string, to projector.ContainerState) {
	s.add(sb, id, &events.ContainerCreating{Image: &runtimeapi.ImageSpec{Image: "busybox"}, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "ctr-" + id}, Labels: labels,
		Linux: &runtimeapi.LinuxContainerConfig{Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512}}}})
	s.add(sb, id, &events.ContainerCreated{Pid: 1})
	if to == projector.ContainerCreated {
		return
	}
	s.add(sb, id, &events.ContainerStarted{Pid: 1})
	if to == projector.ContainerExited {
		s.add(sb, id, &events.ContainerExited{ExitCode: 0})
	}
}

// runcState writes the state.json runc would keep for id, locating cg.
func runcState(t *testing.T, l runtime.Layout, id string, cg cgroups.Cgroup) {
	t.Helper()
	dir := filepath.Join(l.RuncRoot(), id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"id": id, "cgroup_paths": cg.Paths()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCollector reads real cgroups: a process that burnt some CPU runs in
// "running"'s cgroup, "created" has no runc state yet, "exited" is gone.
func TestCollector(t *testing.T) {
	cg := cgroupstest.New(t)
	cmd := cgroupstest.Start(t, cg, cgroupstest.Busybox, "sh", "-c", "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done; exec sleep 1000")
	cgroupstest.WaitInside(t, cg, cmd.Process.Pid)

	l := runtime.Layout{Root: t.TempDir(), State: t.TempDir()}
	runcState(t, l, "running", cg)
	upper := upperDir(l.ContainerDir("running"))
	if err := os.MkdirAll(filepath.Join(upper, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(upper, "etc", "data"), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}

	// The pod's infra lives in a network namespace of its own, with only
	// loopback.
	infra := exec.Command(cgroupstest.Busybox, "unshare", "-n", cgroupstest.Busybox, "sleep", "1000")
	if err := infra.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { infra.Process.Kill(); infra.Wait() })
	netns := "/proc/" + strconv.Itoa(infra.Process.Pid) + "/ns/net"
	waitFor(t, "the infra's namespace", func() bool {
		a, errA := os.Readlink(netns)
		b, errB := os.Readlink("/proc/self/ns/net")
		return errA == nil && errB == nil && a != b
	})

	s := &storeOf{t: t, store: projector.NewStore(nil, nil)}
	s.pod("sb1", uint32(infra.Process.Pid), netns)
	s.container("sb1", "running", map[string]string{"foo": "bar"}, projector.ContainerRunning)
	s.container("sb1", "created", nil, projector.ContainerCreated)
	s.pod("sb2", 0, "")
	s.container("sb2", "exited", map[string]string{"foo": "baz"}, projector.ContainerExited)

	c, err := New(Config{Projection: s.store, Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	st, err := c.ContainerStats(ctx, "runn") // a unique prefix
	if err != nil {
		t.Fatal(err)
	}
	if st.GetAttributes().GetId() != "running" || st.GetAttributes().GetMetadata().GetName() != "ctr-running" {
		t.Errorf("attributes %v", st.GetAttributes())
	}
	if st.GetCpu().GetTimestamp() == 0 || st.GetCpu().GetUsageCoreNanoSeconds().GetValue() == 0 {
		t.Errorf("cpu %v: the process burnt CPU", st.GetCpu())
	}
	if st.GetMemory().GetTimestamp() == 0 || st.GetMemory().GetUsageBytes().GetValue() == 0 || st.GetMemory().GetWorkingSetBytes() == nil {
		t.Errorf("memory %v", st.GetMemory())
	}
	if w := st.GetWritableLayer(); w.GetUsedBytes().GetValue() < 64<<10 || w.GetInodesUsed().GetValue() < 3 || w.GetFsId().GetMountpoint() != filepath.Dir(l.ContainerDir("x")) {
		t.Errorf("writable layer %v: a 64 KiB file in two directories", w)
	}
	if st.GetCpu().GetUsageNanoCores() != nil {
		t.Error("usage_nano_cores from the first sample")
	}
	// A second sample gives a rate.
	st, err = c.ContainerStats(ctx, "running")
	if err != nil {
		t.Fatal(err)
	}
	if st.GetCpu().GetUsageNanoCores() == nil {
		t.Error("no usage_nano_cores from the second sample")
	}

	if _, err := c.ContainerStats(ctx, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ContainerStats of an unknown container = %v", err)
	}

	ids := func(l []*runtimeapi.ContainerStats) []string {
		var out []string
		for _, s := range l {
			out = append(out, s.GetAttributes().GetId())
		}
		return out
	}
	for _, tc := range []struct {
		f    *runtimeapi.ContainerStatsFilter
		want []string
	}{
		{nil, []string{"running", "created", "exited"}},
		{&runtimeapi.ContainerStatsFilter{Id: "created"}, []string{"created"}},
		{&runtimeapi.ContainerStatsFilter{PodSandboxId: "sb2"}, []string{"exited"}},
		{&runtimeapi.ContainerStatsFilter{LabelSelector: map[string]string{"foo": "bar"}}, []string{"running"}},
		{&runtimeapi.ContainerStatsFilter{LabelSelector: map[string]string{"foo": "qux"}}, nil},
	} {
		got, err := c.ListContainerStats(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("ListContainerStats(%v) = %v, want %v", tc.f, ids(got), tc.want)
		}
		for _, s := range got {
			if s.GetAttributes().GetId() != "running" && (s.GetCpu() != nil || s.GetMemory() != nil) {
				t.Errorf("%s has no cgroup but reports %v", s.GetAttributes().GetId(), s)
			}
		}
	}

	ps, err := c.PodSandboxStats(ctx, "sb1")
	if err != nil {
		t.Fatal(err)
	}
	if ps.GetAttributes().GetMetadata().GetName() != "pod-sb1" || len(ps.GetLinux().GetContainers()) != 2 {
		t.Errorf("pod stats %v", ps)
	}
	if ps.GetLinux().GetCpu().GetUsageCoreNanoSeconds().GetValue() == 0 || ps.GetLinux().GetProcess().GetProcessCount().GetValue() == 0 {
		t.Errorf("the pod's figures sum its containers': %v", ps.GetLinux())
	}
	if n := ps.GetLinux().GetNetwork(); n == nil || len(n.GetInterfaces()) != 0 {
		t.Errorf("network %v: the pod's namespace has loopback only", n)
	}
	pl, err := c.ListPodSandboxStats(ctx, &runtimeapi.PodSandboxStatsFilter{LabelSelector: map[string]string{"pod": "sb2"}})
	if err != nil || len(pl) != 1 || pl[0].GetAttributes().GetId() != "sb2" || pl[0].GetLinux().GetCpu() != nil {
		t.Errorf("ListPodSandboxStats(pod=sb2) = %v, %v", pl, err)
	}
	if _, err := c.PodSandboxStats(ctx, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("PodSandboxStats of an unknown sandbox = %v", err)
	}

	ms, err := c.PodSandboxMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].GetPodSandboxId() != "sb1" || len(ms[0].GetContainerMetrics()) != 2 {
		t.Fatalf("metrics %v", ms)
	}
	keys := map[string]int{}
	for _, d := range c.MetricDescriptors() {
		keys[d.GetName()] = len(d.GetLabelKeys())
	}
	found := map[string]uint64{}
	for _, m := range ms[0].GetContainerMetrics()[0].GetMetrics() {
		if n, ok := keys[m.GetName()]; !ok || n != len(m.GetLabelValues()) {
			t.Errorf("metric %v does not match its descriptor (%d keys)", m, n)
		}
		found[m.GetName()] += m.GetValue().GetValue()
	}
	for _, name := range []string{"container_processes", "container_threads", "container_file_descriptors", "container_memory_usage_bytes", "container_fs_usage_bytes"} {
		if found[name] == 0 {
			t.Errorf("%s = 0 for a running process with a writable layer", name)
		}
	}
	if found["container_spec_cpu_shares"] != 512 {
		t.Errorf("container_spec_cpu_shares = %d, want 512", found["container_spec_cpu_shares"])
	}

	// Gone objects are forgotten.
	s.add("sb1", "running", &events.ContainerExited{})
	s.add("sb1", "running", &events.ContainerRemoved{})
	if _, err := c.ListContainerStats(ctx, nil); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	_, prev := c.prev["running"]
	_, loc := c.cgs["running"]
	c.mu.Unlock()
	if prev || loc {
		t.Errorf("a removed container is still remembered (sample %v, cgroup %v)", prev, loc)
	}
}

// TestReadNet: the pod's interfaces are read only while its infra process
// is in the namespace the journal names.
func TestReadNet(t *testing.T) {
	self := uint32(os.Getpid())
	got, err := readNet(self, "/proc/self/ns/net")
	if err != nil || got == nil {
		t.Fatalf("readNet(self) = %v, %v", got, err)
	}
	data, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseNetDev(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ifaces) != len(want) {
		t.Errorf("%d interfaces, want %d", len(got.ifaces), len(want))
	}
	other := exec.Command(cgroupstest.Busybox, "unshare", "-n", cgroupstest.Busybox, "sleep", "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	ns := "/proc/" + strconv.Itoa(other.Process.Pid) + "/ns/net"
	waitFor(t, "a new namespace", func() bool {
		a, _ := os.Readlink(ns)
		b, _ := os.Readlink("/proc/self/ns/net")
		return a != "" && a != b
	})
	if got, err := readNet(self, ns); got != nil || err != nil {
		t.Errorf("readNet of a process outside the namespace = %v, %v, want nothing", got, err)
	}
	for _, tc := range []struct {
		pid   uint32
		netns string
	}{{0, ns}, {self, ""}, {self, "/nonexistent"}} {
		if got, err := readNet(tc.pid, tc.netns); got != nil || err != nil {
			t.Errorf("readNet(%d, %q) = %v, %v", tc.pid, tc.netns, got, err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
