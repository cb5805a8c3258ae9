package e2e

// The security suite (issue 8.5): every way a request, an image or a
// container could reach the host through logbookd, tried against the real
// daemon. Each case asserts the attempt fails and that the host is as it
// was; the report of the issue says how each was shown to fail when its
// protection is taken away.

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestSecurity(t *testing.T) {
	e := newEnv(t, "lbsec0", 226)
	reg := newImageRegistry(t, e)
	// runc behind a wrapper that can change the host between the daemon's
	// checks and runc's use of a path (see swapBeforeCreate).
	wrapper := filepath.Join(e.dir, "runc-wrapper")
	script := fmt.Sprintf("#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = create ] && [ -f %[1]s ]; then sh %[1]s; rm -f %[1]s; fi\ndone\nexec /usr/sbin/runc \"$@\"\n",
		filepath.Join(e.dir, "before-create.sh"))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e.setConfig("runtime-path", wrapper)
	d := e.start()
	ctx := context.Background()
	if _, err := d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}}); err != nil {
		t.Fatal(err)
	}
	podCfg := e.podConfig("sec")
	pod, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		t.Fatal(err)
	}
	s := &secSuite{env: e, reg: reg, pod: pod.GetPodSandboxId(), podCfg: podCfg}

	t.Run("HostileLayers", s.with((*secSuite).hostileLayers))
	t.Run("DeviceNodes", s.with((*secSuite).deviceNodes))
	t.Run("SymlinkMounts", s.with((*secSuite).symlinkMounts))
	t.Run("LogPathEscapes", s.with((*secSuite).logPathEscapes))
	t.Run("NamesAndIDs", s.with((*secSuite).namesAndIDs))
	t.Run("OversizedRequests", s.with((*secSuite).oversized))
	t.Run("SocketPermissions", s.with((*secSuite).socketPermissions))
	t.Run("ProcAndCgroupEscapes", s.with((*secSuite).procAndCgroup))
}

// secSuite is the shared world of the security cases: one daemon, one
// ready pod, the hostile registry.
type secSuite struct {
	*env
	reg    *imageRegistry
	pod    string
	podCfg *runtimeapi.PodSandboxConfig
}

// with runs a case with the env's failures reported on the subtest.
func (s *secSuite) with(fn func(*secSuite, *testing.T)) func(*testing.T) {
	return func(t *testing.T) {
		sub := *s.env
		sub.t = t
		fn(&secSuite{env: &sub, reg: s.reg, pod: s.pod, podCfg: s.podCfg}, t)
	}
}

// grpcCode is the gRPC code of err.
func grpcCode(err error) codes.Code { return status.Code(err) }

// tree describes every entry under dir (name, type, size, link count,
// symlink target), to compare a host directory before and after.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			lines = append(lines, p+" "+err.Error())
			return nil
		}
		var st unix.Stat_t
		unix.Lstat(p, &st)
		line := fmt.Sprintf("%s %o %d %d", strings.TrimPrefix(p, dir), st.Mode, st.Size, st.Nlink)
		if target, err := os.Readlink(p); err == nil {
			line += " -> " + target
		}
		lines = append(lines, line)
		return nil
	})
	return strings.Join(lines, "\n")
}

// runIn creates and starts a container of image in the suite's pod.
func (s *secSuite) runIn(name, image string, mutate func(*runtimeapi.ContainerConfig)) string {
	s.t.Helper()
	cfg := containerConfig(name, "sleep", "3600")
	cfg.Image = &runtimeapi.ImageSpec{Image: image}
	if mutate != nil {
		mutate(cfg)
	}
	return s.runContainer(s.pod, s.podCfg, cfg)
}

// remove removes a container at the end of a case.
func (s *secSuite) remove(id string) {
	if _, err := s.d.rt.RemoveContainer(context.Background(), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		s.t.Errorf("remove %s: %v", id, err)
	}
}

// hostileLayers: layers that climb out with "..", name absolute paths,
// hard-link host files or write through symlinks to host directories are
// either refused (InvalidArgument, nothing journaled, no image) or land
// inside the image's own tree; the host directory they aim at never
// changes.
func (s *secSuite) hostileLayers(t *testing.T) {
	ctx := context.Background()
	host := filepath.Join(s.dir, "hostile-target")
	os.MkdirAll(host, 0o755)
	os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o600)
	before := tree(t, host)
	up := strings.Repeat("../", 24)
	rel := strings.TrimPrefix(host, "/")

	refused := map[string][]tarEntry{
		"dotdot":           {{typ: tar.TypeReg, name: up + rel + "/pwned", body: "x"}},
		"dotdot-inner":     {{typ: tar.TypeDir, name: "a/"}, {typ: tar.TypeReg, name: "a/" + up + rel + "/pwned", body: "x"}},
		"hardlink-dotdot":  {{typ: tar.TypeLink, name: "hl", linkname: up + rel + "/secret"}},
		"hardlink-host":    {{typ: tar.TypeLink, name: "hl", linkname: host + "/secret"}},
		"hardlink-symlink": {{typ: tar.TypeSymlink, name: "s", linkname: host}, {typ: tar.TypeLink, name: "h", linkname: "s/secret"}},
		"dangling-parent":  {{typ: tar.TypeSymlink, name: "evil", linkname: host}, {typ: tar.TypeReg, name: "evil/pwned", body: "x"}},
		"whiteout-dotdot":  {{typ: tar.TypeReg, name: up + rel + "/.wh.secret"}},
		"opaque-dotdot":    {{typ: tar.TypeReg, name: up + rel + "/.wh..wh..opq"}},
	}
	for name, entries := range refused {
		ref := s.reg.push("evil/"+name+":1", nil, layerOf(t, entries...))
		seq := s.journalLast()
		_, err := s.d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if grpcCode(err) != codes.InvalidArgument {
			t.Errorf("%s: pull: %v, want InvalidArgument", name, err)
		}
		if got := s.journalSince(seq); len(got) > 0 {
			t.Errorf("%s: a refused pull journaled %q", name, got)
		}
		if st, err := s.d.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil || st.GetImage() != nil {
			t.Errorf("%s: image status after a refused pull: %v, %v", name, st.GetImage(), err)
		}
	}
	if after := tree(t, host); after != before {
		t.Fatalf("the refused layers changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Contained: the same tricks where the target exists inside the layer,
	// and an absolute path; all of it lands in the image, none on the host.
	var dirs []tarEntry
	for p := host; p != "/"; p = filepath.Dir(p) {
		dirs = append([]tarEntry{{typ: tar.TypeDir, name: strings.TrimPrefix(p, "/") + "/", mode: 0o755}}, dirs...)
	}
	entries := append(dirs,
		tarEntry{typ: tar.TypeSymlink, name: "evil", linkname: host},
		tarEntry{typ: tar.TypeReg, name: "evil/pwned", body: "one"},
		tarEntry{typ: tar.TypeSymlink, name: "up", linkname: up + rel},
		tarEntry{typ: tar.TypeReg, name: "up/pwned2", body: "two"},
		tarEntry{typ: tar.TypeReg, name: host + "/pwned3", body: "three"},
		tarEntry{typ: tar.TypeReg, name: "evil/.wh.secret"},
		tarEntry{typ: tar.TypeLink, name: "passwd-copy", linkname: "/etc/passwd"},
	)
	ref := s.reg.push("evil/contained:1", s.busyboxImage(), layerOf(t, entries...))
	if _, err := s.d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
		t.Fatalf("pull of the contained layer: %v", err)
	}
	if after := tree(t, host); after != before {
		t.Fatalf("unpacking changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	id := s.runIn("contained", ref, nil)
	defer s.remove(id)
	code, out, errOut := s.execSync(id, "cat /evil/pwned /up/pwned2 "+host+"/pwned3; ls "+host+"; grep -c root /passwd-copy")
	if code != 0 || out != "onetwothreepwned\npwned2\npwned3\n1\n" {
		t.Errorf("inside the container: %d %q %q", code, out, errOut)
	}
	if after := tree(t, host); after != before {
		t.Fatalf("the container changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// klog is the kernel log buffer.
func klog(t *testing.T) string {
	t.Helper()
	n, err := unix.Klogctl(unix.SYSLOG_ACTION_SIZE_BUFFER, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	n, err = unix.Klogctl(unix.SYSLOG_ACTION_READ_ALL, buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// deviceNodes: an image may carry device nodes (kmsg, memory, the host's
// root disk), and an unprivileged container may make its own with
// CAP_MKNOD, but with default capabilities it can open none of them: the
// device cgroup allows only the OCI default devices.
func (s *secSuite) deviceNodes(t *testing.T) {
	var root unix.Stat_t
	if err := unix.Stat("/", &root); err != nil {
		t.Fatal(err)
	}
	diskMajor, diskMinor := int64(unix.Major(root.Dev)), int64(unix.Minor(root.Dev))
	_, err := os.Stat(fmt.Sprintf("/sys/dev/block/%d:%d", diskMajor, diskMinor))
	haveDisk := err == nil
	layer := []tarEntry{
		{typ: tar.TypeChar, name: "kmsg", major: 1, minor: 11, mode: 0o666},
		{typ: tar.TypeChar, name: "mem", major: 1, minor: 1, mode: 0o666},
	}
	if haveDisk {
		layer = append(layer, tarEntry{typ: tar.TypeBlock, name: "disk", major: diskMajor, minor: diskMinor, mode: 0o666})
	}
	ref := s.reg.push("evil/devices:1", s.busyboxImage(), layerOf(t, layer...))
	if _, err := s.d.img.PullImage(context.Background(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	id := s.runIn("devices", ref, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}}
	})
	defer s.remove(id)

	nonce := fmt.Sprintf("lbsec-%d", time.Now().UnixNano())
	attempts := []string{
		"ls -l /kmsg && head -c 1 /kmsg",
		"echo " + nonce + "-image > /kmsg",
		"head -c 1 /mem",
		"mknod /tmp/kmsg c 1 11 && echo " + nonce + "-mknod > /tmp/kmsg",
	}
	if haveDisk {
		attempts = append(attempts, "head -c 512 /disk | wc -c | grep -qv '^0$'",
			fmt.Sprintf("mknod /tmp/disk b %d %d && head -c 512 /tmp/disk | wc -c | grep -qv '^0$'", diskMajor, diskMinor))
	}
	for _, a := range attempts {
		if code, out, errOut := s.execSync(id, a); code == 0 {
			t.Errorf("%q succeeded in an unprivileged container: %q %q", a, out, errOut)
		} else if !strings.Contains(errOut, "Operation not permitted") {
			t.Logf("%q: %d %q", a, code, errOut)
		}
	}
	if strings.Contains(klog(t), nonce) {
		t.Errorf("a container wrote to the host's kernel log through a device node")
	}
}

// swapBeforeCreate has the runc wrapper run script just before the next
// `runc create`: after the daemon checked the request, before runc uses it.
func (s *secSuite) swapBeforeCreate(script string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "before-create.sh"), []byte("set -e\n"+script+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// symlinkMounts: a mount's host path that is a symlink, or goes through
// one, mounts the target the link names; a host path swapped for a
// symlink between the daemon's check and runc's mount never shows the
// container what the new link points to.
func (s *secSuite) symlinkMounts(t *testing.T) {
	ctx := context.Background()
	h := filepath.Join(s.dir, "mounts")
	real, secret, swap := filepath.Join(h, "real"), filepath.Join(h, "secret"), filepath.Join(h, "swap")
	for _, dir := range []string{real, secret, swap} {
		os.MkdirAll(dir, 0o755)
	}
	os.WriteFile(filepath.Join(real, "f"), []byte("real"), 0o644)
	os.WriteFile(filepath.Join(secret, "f"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(swap, "f"), []byte("checked"), 0o644)
	os.Symlink("real", filepath.Join(h, "rel-link"))
	os.Symlink(real, filepath.Join(h, "abs-link"))
	os.Symlink(".", filepath.Join(h, "dot"))
	os.Symlink(filepath.Join(real, "f"), filepath.Join(h, "file-link"))

	mounts := []*runtimeapi.Mount{
		{ContainerPath: "/m/rel", HostPath: filepath.Join(h, "rel-link")},
		{ContainerPath: "/m/abs", HostPath: filepath.Join(h, "abs-link")},
		{ContainerPath: "/m/through", HostPath: filepath.Join(h, "dot", "dot", "real")},
		{ContainerPath: "/m/file", HostPath: filepath.Join(h, "file-link")},
	}
	id := s.runIn("links", busybox, func(c *runtimeapi.ContainerConfig) { c.Mounts = mounts })
	defer s.remove(id)
	code, out, errOut := s.execSync(id, "cat /m/rel/f /m/abs/f /m/through/f /m/file; test -L /m/rel || test -L /m/abs || echo nolinks")
	if code != 0 || out != "realrealrealrealnolinks\n" {
		t.Errorf("linked mounts: %d %q %q", code, out, errOut)
	}

	// The swap: the daemon checks swap/ (a directory); runc is then handed
	// a path that has become a symlink to secret/.
	s.swapBeforeCreate(fmt.Sprintf("mv %[1]s %[1]s.checked\nln -s %[2]s %[1]s", swap, secret))
	cfg := containerConfig("swapped", "sleep", "3600")
	cfg.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: swap}}
	res, err := s.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: s.pod, Config: cfg, SandboxConfig: s.podCfg})
	if _, serr := os.Stat(filepath.Join(s.dir, "before-create.sh")); serr == nil {
		t.Fatal("the swap did not run: runc create was never called")
	}
	if err == nil {
		id := res.GetContainerId()
		defer s.remove(id)
		if _, err := s.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		if code, out, _ := s.execSync(id, "cat /data/f"); code == 0 && out != "checked" {
			t.Errorf("the container mounts what the path became after the check: %q", out)
		}
	} else if grpcCode(err) != codes.FailedPrecondition {
		t.Errorf("create with a host path swapped under it: %v, want FailedPrecondition or the checked directory", err)
	} else if l, _ := s.d.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: s.pod}}); slices.ContainsFunc(l.GetContainers(), func(c *runtimeapi.Container) bool { return c.GetMetadata().GetName() == "swapped" }) {
		t.Error("a refused create left a container")
	}
}

// logPathEscapes: a log path that leaves the pod's log directory, by
// "..", by being absolute, or through a symlink inside the directory, is
// InvalidArgument and creates nothing; and a directory swapped for a
// symlink after the container was created does not redirect a reopened
// log.
func (s *secSuite) logPathEscapes(t *testing.T) {
	ctx := context.Background()
	podCfg := s.podConfig("logs")
	logDir := podCfg.LogDirectory
	pod, err := s.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod.GetPodSandboxId()})
	outside := filepath.Join(s.dir, "log-outside")
	os.MkdirAll(outside, 0o755)
	os.Symlink(outside, filepath.Join(logDir, "sub"))
	os.Symlink(filepath.Join(outside, "target.log"), filepath.Join(logDir, "final.log"))
	os.Symlink("../..", filepath.Join(logDir, "upup"))
	beforeOut, beforeLogs := tree(t, outside), tree(t, filepath.Dir(logDir))

	for i, p := range []string{
		"../escape.log", "a/../../escape.log", "..", ".", "/abs.log", logDir + "/abs.log",
		"sub/x.log", "sub/deeper/x.log", "final.log", "upup/escape.log", "x\x00.log",
	} {
		seq := s.journalLast()
		cfg := containerConfig(fmt.Sprintf("escape%d", i), "sleep", "3600")
		cfg.LogPath = p
		_, err := s.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.GetPodSandboxId(), Config: cfg, SandboxConfig: podCfg})
		if grpcCode(err) != codes.InvalidArgument {
			t.Errorf("log_path %q: %v, want InvalidArgument", p, err)
		}
		if got := s.journalSince(seq); len(got) > 0 {
			t.Errorf("log_path %q journaled %q", p, got)
		}
	}
	if after := tree(t, outside); after != beforeOut {
		t.Errorf("refused log paths wrote outside:\n%s", after)
	}
	if after := tree(t, filepath.Dir(logDir)); after != beforeLogs {
		t.Errorf("refused log paths created files:\nbefore:\n%s\nafter:\n%s", beforeLogs, after)
	}

	// Created with a real directory, which is then swapped for a symlink:
	// the kubelet's log rotation (ReopenContainerLog) must not follow it.
	cfg := containerConfig("rotated", "sh", "-c", "while true; do echo line; sleep 0.2; done")
	cfg.LogPath = "rotated/0.log"
	id := s.runContainer(pod.GetPodSandboxId(), podCfg, cfg)
	defer s.remove(id)
	dir := filepath.Join(logDir, "rotated")
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, dir); err != nil {
		t.Fatal(err)
	}
	_, err = s.d.rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: id})
	if _, serr := os.Lstat(filepath.Join(outside, "0.log")); serr == nil {
		t.Errorf("ReopenContainerLog (%v) followed a symlink out of the log directory", err)
	}
}

// namesAndIDs: names full of path syntax are only ever names, and IDs full
// of it name nothing: no file appears where a path built from them would
// point, nothing there is removed, and the journal does not move for an
// unknown ID.
func (s *secSuite) namesAndIDs(t *testing.T) {
	ctx := context.Background()
	nonce := fmt.Sprintf("lbsecname%d", time.Now().UnixNano())
	// Sentinels where "../" from any of the daemon's directories would land.
	var sentinels []string
	for _, d := range []string{s.dir, s.root, s.state, filepath.Join(s.root, "containers"), filepath.Join(s.state, "bundles"),
		filepath.Join(s.state, "shims"), filepath.Join(s.state, "sandboxes")} {
		p := filepath.Join(d, "sentinel")
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "keep"), []byte("keep"), 0o644)
		sentinels = append(sentinels, p)
	}
	long := strings.Repeat("a/../", 20000)
	badIDs := []string{"../sentinel", "../../sentinel", "../../../sentinel", "/", ".", "..", "a/b", "sentinel",
		"x\x00y", s.pod + "/../sentinel", long, "../" + s.pod}
	seq := s.journalLast()
	for _, id := range badIDs {
		short := id
		if len(short) > 40 {
			short = short[:40] + "..."
		}
		for _, c := range []struct {
			rpc  string
			call func() error
			want codes.Code
		}{
			{"ContainerStatus", func() error {
				_, err := s.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
				return err
			}, codes.NotFound},
			{"PodSandboxStatus", func() error {
				_, err := s.d.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
				return err
			}, codes.NotFound},
			{"StartContainer", func() error {
				_, err := s.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
				return err
			}, codes.NotFound},
			{"StopContainer", func() error {
				_, err := s.d.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id})
				return err
			}, codes.OK},
			{"RemoveContainer", func() error {
				_, err := s.d.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
				return err
			}, codes.OK},
			{"StopPodSandbox", func() error {
				_, err := s.d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
				return err
			}, codes.OK},
			{"RemovePodSandbox", func() error {
				_, err := s.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
				return err
			}, codes.OK},
			{"ReopenContainerLog", func() error {
				_, err := s.d.rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: id})
				return err
			}, codes.NotFound},
			{"CreateContainer", func() error {
				_, err := s.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: id,
					Config: containerConfig("x", "true"), SandboxConfig: s.podCfg})
				return err
			}, codes.NotFound},
		} {
			if err := c.call(); grpcCode(err) != c.want {
				t.Errorf("%s(%q): %v, want %v", c.rpc, short, err, c.want)
			}
		}
	}
	if got := s.journalSince(seq); len(got) > 0 {
		t.Errorf("requests with unknown IDs journaled %q", got)
	}
	for _, p := range sentinels {
		if b, err := os.ReadFile(filepath.Join(p, "keep")); err != nil || string(b) != "keep" {
			t.Errorf("sentinel %s: %v", p, err)
		}
		os.RemoveAll(p)
	}

	// Names with path syntax, NUL and great length: accepted as names (or
	// refused), never a path.
	for _, name := range []string{"../../../../" + nonce, nonce + "/../../x", "/" + nonce, nonce + "\x00x", nonce + strings.Repeat("n", 4096)} {
		cfg := s.podConfig("names")
		cfg.Metadata.Name, cfg.Metadata.Namespace, cfg.Metadata.Uid = name, "../"+nonce, name+"/uid"
		res, err := s.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
		if err != nil {
			if grpcCode(err) != codes.InvalidArgument {
				t.Errorf("pod named %.40q: %v, want success or InvalidArgument", name, err)
			}
			continue
		}
		ccfg := containerConfig(name, "true")
		ccfg.LogPath = ""
		c, err := s.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: res.GetPodSandboxId(), Config: ccfg, SandboxConfig: cfg})
		if err != nil && grpcCode(err) != codes.InvalidArgument {
			t.Errorf("container named %.40q: %v, want success or InvalidArgument", name, err)
		}
		if err == nil {
			st, err := s.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.GetContainerId()})
			if err != nil || st.GetStatus().GetMetadata().GetName() != name {
				t.Errorf("container named %.40q: status %v, %v", name, st.GetStatus().GetMetadata(), err)
			}
		}
		if _, err := s.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: res.GetPodSandboxId()}); err != nil {
			t.Errorf("remove pod named %.40q: %v", name, err)
		}
	}
	for _, top := range []string{"/", "/tmp", "/run", "/var/lib", filepath.Dir(s.dir)} {
		for _, n := range listDir(top) {
			if strings.Contains(n, nonce) {
				t.Errorf("%s/%s was made from a name", top, n)
			}
		}
	}
	filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), nonce) {
			t.Errorf("%s was made from a name", p)
		}
		return nil
	})
}

// oversized: a request past the 16 MiB message limit is ResourceExhausted,
// changes nothing, and the daemon keeps serving.
func (s *secSuite) oversized(t *testing.T) {
	ctx := context.Background()
	big := strings.Repeat("x", 17<<20)
	seq := s.journalLast()
	cfg := containerConfig("big", "true")
	cfg.Annotations = map[string]string{"big": big}
	_, err := s.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: s.pod, Config: cfg, SandboxConfig: s.podCfg})
	if grpcCode(err) != codes.ResourceExhausted {
		t.Errorf("17 MiB CreateContainer: %v, want ResourceExhausted", err)
	}
	pcfg := s.podConfig("big")
	pcfg.Labels = map[string]string{"big": big}
	if _, err := s.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pcfg}); grpcCode(err) != codes.ResourceExhausted {
		t.Errorf("17 MiB RunPodSandbox: %v, want ResourceExhausted", err)
	}
	if _, err := s.d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox},
		Auth: &runtimeapi.AuthConfig{Password: big}}); grpcCode(err) != codes.ResourceExhausted {
		t.Errorf("17 MiB PullImage: %v, want ResourceExhausted", err)
	}
	if _, err := s.d.rt.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("the daemon after oversized requests: %v", err)
	}
	if got := s.journalSince(seq); len(got) > 0 {
		t.Errorf("oversized requests journaled %q", got)
	}
}

// socketPermissions: the CRI socket is a root-owned socket of mode 0660,
// and a process of another user cannot connect to it, even where the path
// to it is open to everyone.
func (s *secSuite) socketPermissions(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat(s.socket, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Mode&0o7777 != 0o660 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("socket %s: mode %o, owner %d:%d; want a socket, 0660, 0:0", s.socket, st.Mode, st.Uid, st.Gid)
	}
	// Let anyone walk to the socket, so that only its own mode is tested.
	for p := filepath.Dir(s.socket); p != "/"; p = filepath.Dir(p) {
		var ds unix.Stat_t
		if unix.Stat(p, &ds) == nil && ds.Mode&0o001 == 0 {
			os.Chmod(p, os.FileMode(ds.Mode&0o777|0o111))
		}
	}
	crictl := func(uid uint32) (string, error) {
		cmd := exec.Command(s.b.crictl, "--runtime-endpoint", "unix://"+s.socket, "--timeout", "5s", "version")
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := s.r.Run(cmd)
		return out.String(), err
	}
	if out, err := crictl(0); err != nil {
		t.Fatalf("root cannot connect: %v: %s", err, out)
	}
	const nobody = 65534
	out, err := crictl(nobody)
	if err == nil {
		t.Fatalf("uid %d connected to the CRI socket: %s", nobody, out)
	}
	if !strings.Contains(strings.ToLower(out), "permission denied") {
		t.Errorf("uid %d: %v: %s; want permission denied", nobody, err, out)
	}
}

// procAndCgroup: a container with the default capabilities and the
// runtime's default seccomp profile tries the classic escapes through
// /proc and cgroupfs. Each fails, and the host is unchanged.
func (s *secSuite) procAndCgroup(t *testing.T) {
	id := s.runIn("escape", busybox, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}}
	})
	defer s.remove(id)
	st, err := s.d.rt.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, st.GetInfo()["info"])

	readFile := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	const sysctl = "/proc/sys/kernel/printk_ratelimit_burst"
	n, _ := strconv.Atoi(strings.TrimSpace(readFile(sysctl)))
	hostFiles := []string{sysctl, "/proc/sys/kernel/core_pattern", "/proc/" + strconv.Itoa(pid) + "/cgroup"}
	for _, ctrl := range []string{"memory", "pids", "cpu", "devices", "freezer"} {
		hostFiles = append(hostFiles, "/sys/fs/cgroup/"+ctrl+"/release_agent", "/sys/fs/cgroup/"+ctrl+"/notify_on_release")
	}
	before := map[string]string{}
	for _, f := range hostFiles {
		before[f] = readFile(f)
	}
	sysrqBefore := strings.Count(klog(t), "sysrq")

	for _, a := range []string{
		"echo h > /proc/sysrq-trigger",
		"test $(head -c 4096 /proc/kcore | wc -c) -gt 0",
		fmt.Sprintf("echo %d > %s", n+1, sysctl),
		"echo '|/tmp/pwn' > /proc/sys/kernel/core_pattern",
		"for f in /sys/fs/cgroup/*/release_agent; do echo /tmp/pwn > $f && exit 0; done; exit 1",
		"for f in /sys/fs/cgroup/*/notify_on_release; do echo 1 > $f && exit 0; done; exit 1",
		"mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg",
		"mkdir -p /tmp/cg2 && mount -t cgroup2 none /tmp/cg2",
		"mkdir -p /tmp/p && mount -t proc proc /tmp/p",
		"for f in /sys/fs/cgroup/*/cgroup.procs /sys/fs/cgroup/cgroup.procs; do [ -e $f ] && echo $$ > $f && exit 0; done; exit 1",
		"mkdir /sys/fs/cgroup/memory/escape",
		"unshare -m -U -r true",
		"nsenter -t 1 -m true",
	} {
		if code, out, errOut := s.execSync(id, a); code == 0 {
			t.Errorf("%q succeeded: %q %q", a, out, errOut)
		}
	}
	for _, f := range hostFiles {
		if got := readFile(f); got != before[f] {
			t.Errorf("host %s changed: %q -> %q", f, before[f], got)
			if strings.HasPrefix(f, "/proc/sys/") || strings.HasPrefix(f, "/sys/fs/cgroup/") {
				os.WriteFile(f, []byte(strings.TrimSuffix(before[f], "\n")), 0o644) // put the host back
			}
		}
	}
	if strings.Count(klog(t), "sysrq") != sysrqBefore {
		t.Error("a container reached the host's sysrq trigger")
	}
}

// pidOf reads the container's init pid from ContainerStatus's verbose info.
func pidOf(t *testing.T, info string) int {
	t.Helper()
	i := strings.Index(info, `"pid":`)
	if i < 0 {
		t.Fatalf("no pid in %s", info)
	}
	rest := info[i+len(`"pid":`):]
	end := strings.IndexAny(rest, ",}")
	pid, err := strconv.Atoi(strings.TrimSpace(rest[:end]))
	if err != nil || pid <= 0 {
		t.Fatalf("pid in %s: %v", info, err)
	}
	return pid
}
