package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestRuncRunsGeneratedSpecs hands a sandbox spec and a container spec to
// the real runc (1.1.5 here) and checks, from inside the container, what
// the specs promise: the pod's PID namespace with the infra process as PID
// 1, the resolved user and groups, the capability set, seccomp in filter
// mode, a read-only rootfs, masked paths, a recursive read-only volume and
// the pod's /etc files. The package itself does no I/O; this test makes
// sure runc accepts and means what it writes.
func TestRuncRunsGeneratedSpecs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containers")
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static /bin/busybox for the rootfs")
	}
	dir := t.TempDir()
	stateRoot := filepath.Join(dir, "runc")
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "mnt/vol", "mnt/vol-ro"} {
		mustMkdir(t, filepath.Join(rootfs, d))
	}
	copyFile(t, "/bin/busybox", filepath.Join(rootfs, "bin/busybox"), 0o755)
	writeFile(t, filepath.Join(rootfs, "etc/passwd"), testPasswd)
	writeFile(t, filepath.Join(rootfs, "etc/group"), testGroup)
	for _, f := range []string{"etc/hostname", "etc/hosts", "etc/resolv.conf"} {
		writeFile(t, filepath.Join(rootfs, f), "")
	}
	podFiles := filepath.Join(dir, "pod")
	mustMkdir(t, filepath.Join(podFiles, "shm"))
	writeFile(t, filepath.Join(podFiles, "hostname"), "pod-host\n")
	writeFile(t, filepath.Join(podFiles, "hosts"), "127.0.0.1 localhost pod-host\n")
	writeFile(t, filepath.Join(podFiles, "resolv.conf"), "nameserver 10.10.10.10\n")
	volume := filepath.Join(dir, "volume")
	mustMkdir(t, volume)
	writeFile(t, filepath.Join(volume, "flag"), "x")
	// A submount shows the difference between "ro" (the top mount only)
	// and "rro" (the whole tree).
	submount := filepath.Join(volume, "tmpfs")
	mustMkdir(t, submount)
	if err := syscall.Mount("tmpfs", submount, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(submount, syscall.MNT_DETACH) })

	cgroupParent := fmt.Sprintf("/logbook-oci-test-%d", os.Getpid())
	t.Cleanup(func() { removeCgroupParent(cgroupParent) })
	host := testHost()
	host.DefaultCgroupParent = cgroupParent
	host.RestrictOOMScoreAdj = true // this VM refuses negative oom_score_adj
	host.KernelRelease = ""
	host.Arch = ""

	pod := testPodConfig()
	podSC(pod).NamespaceOptions = &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_POD,
	}
	podSC(pod).Seccomp = &runtimeapi.SecurityProfile{}
	sid := fmt.Sprintf("sb%d", os.Getpid())
	sbSpec := mustSandbox(t, SandboxInput{
		ID: sid, Config: pod, Host: host, Rootfs: rootfs,
		Args:    []string{"/bin/busybox", "sleep", "60"},
		ShmPath: filepath.Join(podFiles, "shm"),
	})
	runRunc := func(args ...string) ([]byte, error) {
		cmd := exec.Command(runc, append([]string{"--root", stateRoot}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("runc %v: %v: %s", args, err, errb.String())
		}
		return out.Bytes(), err
	}
	sbBundle := writeBundle(t, filepath.Join(dir, "sandbox"), sbSpec)
	// Detached, the infra process keeps runc's stdio: a file here, not a
	// pipe that would hold exec.Cmd.Wait until the infra process exits.
	sbLog := filepath.Join(dir, "sandbox.log")
	logFile, err := os.Create(sbLog)
	if err != nil {
		t.Fatal(err)
	}
	detach := exec.Command(runc, "--root", stateRoot, "run", "--detach", "--bundle", sbBundle, sid)
	detach.Stdout, detach.Stderr = logFile, logFile
	err = detach.Run()
	logFile.Close()
	if err != nil {
		out, _ := os.ReadFile(sbLog)
		t.Fatalf("runc run --detach: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = runRunc("delete", "--force", sid) })
	stateJSON, err := runRunc("state", sid)
	if err != nil {
		t.Fatal(err)
	}
	var state struct{ Pid int }
	if err := json.Unmarshal(stateJSON, &state); err != nil || state.Pid == 0 {
		t.Fatalf("runc state %s: %v", stateJSON, err)
	}

	in := testContainerInput()
	in.SandboxID, in.ID = sid, fmt.Sprintf("ctr%d", os.Getpid())
	in.Sandbox, in.Host, in.Rootfs = pod, host, rootfs
	in.Namespaces = SandboxNamespaces{
		IPC: fmt.Sprintf("/proc/%d/ns/ipc", state.Pid),
		PID: fmt.Sprintf("/proc/%d/ns/pid", state.Pid),
	}
	in.Files = SandboxFiles{
		Hostname:   filepath.Join(podFiles, "hostname"),
		Hosts:      filepath.Join(podFiles, "hosts"),
		ResolvConf: filepath.Join(podFiles, "resolv.conf"),
		Shm:        filepath.Join(podFiles, "shm"),
	}
	in.Config.Command = []string{"/bin/busybox", "sh", "-c", strings.Join([]string{
		"echo uid=$(id -u) gid=$(id -g) groups=$(id -G)",
		"grep -E '^(Seccomp|CapBnd|NoNewPrivs):' /proc/self/status",
		"echo pid1=$(tr '\\0' ' ' </proc/1/cmdline)",
		"touch /rootfs-write 2>/dev/null && echo rootfs=rw || echo rootfs=ro",
		"touch /mnt/vol/new 2>/dev/null && echo vol=rw || echo vol=ro",
		"touch /mnt/vol/tmpfs/new 2>/dev/null && echo rro-sub=rw || echo rro-sub=ro",
		"touch /mnt/vol-ro/tmpfs/new 2>/dev/null && echo ro-sub=rw || echo ro-sub=ro",
		"cat /mnt/vol/flag; echo",
		"head -c1 /proc/kcore >/dev/null 2>&1 && echo kcore=readable || echo kcore=masked",
		"grep nameserver /etc/resolv.conf",
	}, "; ")}
	s := sc(&in)
	s.NamespaceOptions = &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_POD}
	s.RunAsUser = i64(1000)
	s.SupplementalGroups = []int64{1234}
	s.ReadonlyRootfs = true
	s.NoNewPrivs = true
	s.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	s.Capabilities = &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"KILL", "CHOWN"}}
	in.Config.Mounts = []*runtimeapi.Mount{
		{ContainerPath: "/mnt/vol", HostPath: volume, Readonly: true, RecursiveReadOnly: true},
		{ContainerPath: "/mnt/vol-ro", HostPath: volume, Readonly: true},
	}
	in.Config.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20, CpuShares: 512}
	ctrSpec, _ := mustContainer(t, in)
	ctrBundle := writeBundle(t, filepath.Join(dir, "container"), ctrSpec)
	t.Cleanup(func() { _, _ = runRunc("delete", "--force", in.ID) })
	out, err := runRunc("run", "--bundle", ctrBundle, in.ID)
	if err != nil {
		t.Fatalf("%v\noutput: %s", err, out)
	}
	got := string(out)
	t.Logf("container output:\n%s", got)
	for _, want := range []string{
		"uid=1000 gid=1000 groups=1000 1234 50000",
		"Seccomp:\t2",
		"CapBnd:\t0000000000000021", // CAP_CHOWN (0) and CAP_KILL (5)
		"NoNewPrivs:\t1",
		"pid1=/bin/busybox sleep 60",
		"rootfs=ro",
		"vol=ro",
		"rro-sub=ro",
		"ro-sub=rw",
		"x\n",
		"kcore=masked",
		"nameserver 10.10.10.10",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("container output lacks %q:\n%s", want, got)
		}
	}
}

func writeBundle(t *testing.T, dir string, spec any) string {
	t.Helper()
	mustMkdir(t, dir)
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "config.json"), string(b))
	return dir
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// removeCgroupParent removes the test's parent cgroup from every v1
// hierarchy (runc removes the leaves, not their parent).
func removeCgroupParent(parent string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}
