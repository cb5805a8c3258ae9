package e2e

// Helpers of the fault-injection tests (faults_test.go): changing the
// daemon's configuration before it starts, the checks every fault ends
// with (a verified journal, no leak, a daemon that still serves), and the
// fault helpers of testdata/faults put in place.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// configure merges keys into the daemon's configuration file (for the
// next start).
func (e *env) configure(kv map[string]any) {
	e.t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := map[string]any{}
	if err := json.Unmarshal(b, &cfg); err != nil {
		e.t.Fatal(err)
	}
	for k, v := range kv {
		cfg[k] = v
	}
	if b, err = json.Marshal(cfg); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.cfgPath, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// mirror is the registry mirror the configuration points at.
func (e *env) mirror() string {
	e.t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	var cfg struct {
		Mirrors map[string][]string `json:"registry-mirrors"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil || len(cfg.Mirrors["registry.k8s.io"]) == 0 {
		e.t.Fatalf("no mirror in %s: %v", e.cfgPath, err)
	}
	return cfg.Mirrors["registry.k8s.io"][0]
}

// repoDir is the repository's root (bin/ and testdata/ are below it).
func (e *env) repoDir() string { return filepath.Dir(filepath.Dir(e.b.logbookd)) }

// tmpfs mounts a tmpfs of size bytes on a new directory and unmounts it
// when the test ends. Call it before newEnv: cleanups run last-first, so
// the environment's cleanup (which needs the directory) runs before the
// unmount.
func tmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// fill writes a file in dir until the filesystem has at most leave bytes
// free and returns its path; removing it frees the space.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for n := free - leave; n > 0; {
		w, err := f.Write(buf[:min(int64(len(buf)), n)])
		n -= int64(w)
		if err != nil {
			break // ENOSPC: full, whatever leave said
		}
	}
	return path
}

// freeBytes is the space left on dir's filesystem.
func freeBytes(dir string) int64 {
	var st unix.Statfs_t
	unix.Statfs(dir, &st)
	return int64(st.Bavail) * st.Bsize
}

// wantCode fails the test unless err is a gRPC status of code whose
// message contains every one of words.
func wantCode(t *testing.T, what string, err error, code codes.Code, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want %v", what, code)
		return
	}
	s, _ := status.FromError(err)
	if s.Code() != code {
		t.Errorf("%s: code %v (%s), want %v", what, s.Code(), s.Message(), code)
	}
	for _, w := range words {
		if !strings.Contains(s.Message(), w) {
			t.Errorf("%s: message %q does not say %q", what, s.Message(), w)
		}
	}
}

// journalVerify runs `logbook journal verify` on the running daemon.
func (e *env) journalVerify() {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(filepath.Dir(e.b.logbookd), "logbook"), "--socket", e.socket, "journal", "verify")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := e.r.Run(cmd); err != nil {
		e.t.Errorf("logbook journal verify: %v\n%s", err, out.String())
	}
}

// liveSets asks the daemon what exists: every listed object, those that
// may run (ready pods, created and running containers), and the ready
// pods (which alone hold a veth and an IP lease).
func (e *env) liveSets(ctx context.Context) (live, running, ready map[string]bool, err error) {
	live, running, ready = map[string]bool{}, map[string]bool{}, map[string]bool{}
	pods, err := e.d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, p := range pods.GetItems() {
		live[p.GetId()] = true
		if p.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			running[p.GetId()], ready[p.GetId()] = true, true
		}
	}
	ctrs, err := e.d.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, c := range ctrs.GetContainers() {
		live[c.GetId()] = true
		if c.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			running[c.GetId()] = true
		}
	}
	return live, running, ready, nil
}

// netLeaks lists veths on the test's bridge beyond one per ready pod and
// host-local leases not held by a ready pod.
func (e *env) netLeaks(ready map[string]bool) error {
	var found []string
	if br, err := netlink.LinkByName(e.bridge); err == nil {
		links, _ := netlink.LinkList()
		n := 0
		for _, l := range links {
			if l.Type() == "veth" && l.Attrs().MasterIndex == br.Attrs().Index {
				n++
			}
		}
		if n > len(ready) {
			found = append(found, fmt.Sprintf("%d veths on %s for %d ready pods", n, e.bridge, len(ready)))
		}
	}
	leaseDir := filepath.Join(e.dir, "ipam", e.bridge)
	for _, name := range listDir(leaseDir) {
		if net.ParseIP(name) == nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(leaseDir, name))
		id, _, _ := strings.Cut(strings.ReplaceAll(string(b), "\r", ""), "\n")
		if !ready[strings.TrimSpace(id)] {
			found = append(found, "lease "+name+" of "+id)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("leaked: %v", found)
	}
	return nil
}

// consistent checks what every fault must leave behind, with the daemon
// running: a journal that verifies, and nothing on the node that no live
// object owns (processes, runc state, files, mounts, cgroups, veths, IP
// leases); polled, since a rollback may finish a moment after the error
// reached the caller.
func (e *env) consistent() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.journalVerify()
	poll(e.t, "no leak", 20*time.Second, func() error {
		live, running, ready, err := e.liveSets(ctx)
		if err != nil {
			return err
		}
		if err := e.leaks(live, running); err != nil {
			return err
		}
		return e.netLeaks(ready)
	})
}

// servesOthers runs a pod with a container, execs in it and removes the
// pod: the daemon still does its work for everyone else.
func (e *env) servesOthers(name string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := e.podConfig(name)
	p, err := e.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		e.t.Fatalf("another pod after the fault: %v", err)
	}
	c, err := e.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p.PodSandboxId, SandboxConfig: cfg,
		Config: containerConfig("other", "sleep", "1000")})
	if err != nil {
		e.t.Fatalf("a container in another pod after the fault: %v", err)
	}
	if _, err := e.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		e.t.Fatalf("start a container in another pod after the fault: %v", err)
	}
	r, err := e.d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: c.ContainerId, Cmd: []string{"echo", "alive"}, Timeout: 30})
	if err != nil || string(r.GetStdout()) != "alive\n" {
		e.t.Fatalf("exec in another pod after the fault: %v %q", err, r.GetStdout())
	}
	if _, err := e.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.PodSandboxId}); err != nil {
		e.t.Fatalf("remove another pod after the fault: %v", err)
	}
}

// installFault copies a script of testdata/faults into dir under name.
func (e *env) installFault(script, dir, name string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.repoDir(), "testdata", "faults", script))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// rules writes a fault script's rules file.
func rules(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// keepLogs copies the daemon's logs out of the test's directory when the
// test fails (t.TempDir removes them), and says where.
func (e *env) keepLogs() {
	e.t.Cleanup(func() {
		if !e.t.Failed() {
			return
		}
		dst, err := os.MkdirTemp("", "logbook-"+strings.ReplaceAll(e.t.Name(), "/", "-")+"-")
		if err != nil {
			return
		}
		for _, p := range listDir(e.dir) {
			if strings.HasSuffix(p, ".log") {
				if b, err := os.ReadFile(filepath.Join(e.dir, p)); err == nil {
					os.WriteFile(filepath.Join(dst, p), b, 0o644)
				}
			}
		}
		e.t.Logf("daemon logs kept in %s", dst)
	})
}
