package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Host flags of the fuzz input, one bit each.
const (
	fuzzCgroupV2 = 1 << iota
	fuzzSwap
	fuzzRRO
	fuzzSystemd
	fuzzRestrictOOM
	fuzzAppArmor
	fuzzPids
	fuzzImageVolumes
)

// fuzzInput builds a complete ContainerInput around a fuzzed container and
// pod config: every fact the caller owes is provided, so any refusal must
// be the request's fault (ErrInvalid or ErrUnsupported).
func fuzzInput(cfg *runtimeapi.ContainerConfig, pod *runtimeapi.PodSandboxConfig, imageUser string, passwd, group, profile []byte, flags uint8) ContainerInput {
	in := testContainerInput()
	in.Config, in.Sandbox = cfg, pod
	in.Host = Host{
		CgroupV2:                flags&fuzzCgroupV2 != 0,
		SwapAccounting:          flags&fuzzSwap != 0,
		RecursiveReadOnlyMounts: flags&fuzzRRO != 0,
		RestrictOOMScoreAdj:     flags&fuzzRestrictOOM != 0,
		AppArmor:                flags&fuzzAppArmor != 0,
		AppArmorDefaultProfile:  "logbook-default",
		Arch:                    "amd64",
		KernelRelease:           "6.1.0",
		NodeHostname:            "node-1",
		Devices: []HostDevice{
			{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11, FileMode: 0o644},
			{Path: "/dev/sda", Type: "b", Major: 8, FileMode: 0o660, GID: 6},
		},
	}
	if flags&fuzzSystemd != 0 {
		in.Host.CgroupDriver = Systemd
	}
	if flags&fuzzPids != 0 {
		in.Host.PidsLimit = 1024
	}
	in.Image.Config = ocispec.ImageConfig{User: imageUser, Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"run"}, Env: []string{"A=1"}}
	in.Image.Passwd, in.Image.Group = passwd, group
	in.Namespaces.TargetPID = "/proc/999/ns/pid"

	sc := cfg.GetLinux().GetSecurityContext()
	in.SeccompProfiles = map[string][]byte{}
	if ref := sc.GetSeccomp().GetLocalhostRef(); ref != "" {
		in.SeccompProfiles[ref] = profile
	}
	if ref, ok := strings.CutPrefix(sc.GetSeccompProfilePath(), "localhost/"); ok {
		in.SeccompProfiles[ref] = profile
	}
	in.Devices = map[string][]HostDevice{}
	for i, d := range cfg.GetDevices() {
		in.Devices[d.GetHostPath()] = []HostDevice{{Path: d.GetHostPath(), Type: "c", Major: int64(len(d.GetHostPath())), Minor: int64(i), FileMode: 0o600}}
	}
	if flags&fuzzImageVolumes != 0 {
		in.ImageVolumes = map[string]string{}
		for i, m := range cfg.GetMounts() {
			in.ImageVolumes[path.Clean(m.GetContainerPath())] = fmt.Sprintf("/var/lib/logbook/image-volumes/%d", i)
		}
	}
	return in
}

func FuzzContainerSpec(f *testing.F) {
	f.Fuzz(func(t *testing.T, cfgBytes, podBytes []byte, imageUser string, passwd, group, profile []byte, flags uint8) {
		cfg, pod := &runtimeapi.ContainerConfig{}, &runtimeapi.PodSandboxConfig{}
		if proto.Unmarshal(cfgBytes, cfg) != nil || proto.Unmarshal(podBytes, pod) != nil {
			return
		}
		in := fuzzInput(cfg, pod, imageUser, passwd, group, profile, flags)
		s, user, err := ContainerSpec(in)
		if err != nil {
			// Every refusal is the request's fault, classified, and says
			// so first: "invalid argument: <field>...".
			msg := err.Error()
			if !(errors.Is(err, ErrInvalid) && strings.HasPrefix(msg, ErrInvalid.Error()+": ")) &&
				!(errors.Is(err, ErrUnsupported) && strings.HasPrefix(msg, ErrUnsupported.Error()+": ")) {
				t.Fatalf("refusal is neither ErrInvalid nor ErrUnsupported, or says so late: %v", err)
			}
			return
		}
		checkSane(t, &in, s, user)
	})
}

// checkSane asserts what every spec ContainerSpec accepts must satisfy.
func checkSane(t *testing.T, in *ContainerInput, s *specs.Spec, user User) {
	t.Helper()
	sc := in.Config.GetLinux().GetSecurityContext()
	privileged := sc.GetPrivileged()
	if _, err := json.Marshal(s); err != nil {
		t.Fatalf("spec does not encode: %v", err)
	}
	if s.Version != OCIVersion || s.Process == nil || s.Root == nil || s.Linux == nil {
		t.Fatal("spec lacks version, process, root or linux")
	}

	// Process.
	p := s.Process
	if len(p.Args) == 0 || p.Args[0] == "" {
		t.Fatalf("args %q", p.Args)
	}
	if !path.IsAbs(p.Cwd) || path.Clean(p.Cwd) != p.Cwd {
		t.Fatalf("cwd %q", p.Cwd)
	}
	keys := map[string]bool{}
	for _, e := range p.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || keys[k] || strings.IndexByte(e, 0) >= 0 {
			t.Fatalf("env entry %q (duplicate, keyless or with NUL) in %q", e, p.Env)
		}
		keys[k] = true
	}
	if !keys["PATH"] {
		t.Fatalf("no PATH in %q", p.Env)
	}
	if p.NoNewPrivileges != sc.GetNoNewPrivs() {
		t.Fatalf("no_new_privs %v, asked %v", p.NoNewPrivileges, sc.GetNoNewPrivs())
	}
	if s.Root.Path != in.Rootfs || s.Root.Readonly != sc.GetReadonlyRootfs() {
		t.Fatalf("root %+v", s.Root)
	}
	if p.OOMScoreAdj == nil || *p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000 ||
		(in.Host.RestrictOOMScoreAdj && *p.OOMScoreAdj < in.Host.MinOOMScoreAdj) {
		t.Fatalf("oom_score_adj %v", p.OOMScoreAdj)
	}

	// User.
	u := p.User
	if u.UID != user.UID || u.GID != user.GID || !slices.Equal(u.AdditionalGids, user.SupplementalGroups) {
		t.Fatalf("spec user %+v differs from returned %+v", u, user)
	}
	if !slices.IsSorted(u.AdditionalGids) || len(slices.Compact(slices.Clone(u.AdditionalGids))) != len(u.AdditionalGids) || !slices.Contains(u.AdditionalGids, u.GID) {
		t.Fatalf("groups %v: not sorted, not unique or without the primary gid %d", u.AdditionalGids, u.GID)
	}
	if r := sc.GetRunAsUser(); r != nil && int64(u.UID) != r.GetValue() {
		t.Fatalf("uid %d, asked %d", u.UID, r.GetValue())
	}
	if g := sc.GetRunAsGroup(); g != nil && int64(u.GID) != g.GetValue() {
		t.Fatalf("gid %d, asked %d", u.GID, g.GetValue())
	}

	// Mounts.
	dsts := map[string]bool{}
	for _, m := range s.Mounts {
		d := m.Destination
		if !path.IsAbs(d) || path.Clean(d) != d || d == "/" || dsts[d] {
			t.Fatalf("mount destination %q (relative, unclean, root or repeated)", d)
		}
		dsts[d] = true
		if m.Type == "bind" && !path.IsAbs(m.Source) {
			t.Fatalf("bind source %q", m.Source)
		}
		if !privileged && (m.Type == "sysfs" || m.Type == "cgroup") && !slices.Contains(m.Options, "ro") {
			t.Fatalf("unprivileged %s mount is writable: %q", m.Type, m.Options)
		}
	}
	for _, d := range s.Linux.Devices {
		if !path.IsAbs(d.Path) || path.Clean(d.Path) != d.Path {
			t.Fatalf("device path %q", d.Path)
		}
	}

	// Namespaces: unique, and each as the request and the pod say.
	types := map[specs.LinuxNamespaceType]specs.LinuxNamespace{}
	for _, n := range s.Linux.Namespaces {
		if _, dup := types[n.Type]; dup {
			t.Fatalf("namespace %s twice", n.Type)
		}
		types[n.Type] = n
	}
	ns := sc.GetNamespaceOptions()
	net, hasNet := types[specs.NetworkNamespace]
	_, hasUTS := types[specs.UTSNamespace]
	ipc, hasIPC := types[specs.IPCNamespace]
	pid, hasPID := types[specs.PIDNamespace]
	_, hasMnt := types[specs.MountNamespace]
	_, hasUser := types[specs.UserNamespace]
	switch {
	case !hasMnt || hasUser:
		t.Fatalf("namespaces %+v: need a mount namespace and no user namespace", s.Linux.Namespaces)
	case hasNet != (ns.GetNetwork() == runtimeapi.NamespaceMode_POD), hasNet && net.Path != in.Namespaces.Network:
		t.Fatalf("network namespace %+v for mode %s", net, ns.GetNetwork())
	case hasUTS != hasNet, s.Hostname != "" && !hasUTS:
		t.Fatalf("UTS namespace %v with network %v, hostname %q", hasUTS, hasNet, s.Hostname)
	case hasIPC == (ns.GetIpc() == runtimeapi.NamespaceMode_NODE), ns.GetIpc() == runtimeapi.NamespaceMode_POD && ipc.Path != in.Namespaces.IPC:
		t.Fatalf("IPC namespace %+v for mode %s", ipc, ns.GetIpc())
	case hasPID == (ns.GetPid() == runtimeapi.NamespaceMode_NODE),
		ns.GetPid() == runtimeapi.NamespaceMode_POD && pid.Path != in.Namespaces.PID,
		ns.GetPid() == runtimeapi.NamespaceMode_CONTAINER && pid.Path != "":
		t.Fatalf("PID namespace %+v for mode %s", pid, ns.GetPid())
	case ns.GetNetwork() != in.Sandbox.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork():
		t.Fatal("network mode differs from the pod's")
	}

	// Cgroups.
	if cp := s.Linux.CgroupsPath; in.Host.CgroupDriver == Systemd {
		if !strings.HasSuffix(cp, ".slice:logbook:"+in.ID) || strings.Count(cp, ":") != 2 {
			t.Fatalf("systemd cgroups path %q", cp)
		}
	} else if !strings.HasPrefix(cp, "/") || !strings.HasSuffix(cp, "/"+in.ID) || path.Clean(cp) != cp {
		t.Fatalf("cgroupfs cgroups path %q", cp)
	}

	// No privilege the request did not ask for.
	if privileged {
		if !in.Sandbox.GetLinux().GetSecurityContext().GetPrivileged() {
			t.Fatal("privileged container in an unprivileged pod")
		}
		return
	}
	allowed := map[string]bool{}
	for _, c := range defaultCapabilities {
		allowed[c] = true
	}
	capsReq := sc.GetCapabilities()
	for _, c := range append(slices.Clone(capsReq.GetAddCapabilities()), capsReq.GetAddAmbientCapabilities()...) {
		if strings.EqualFold(strings.TrimSpace(c), "ALL") {
			for _, a := range allCapabilities {
				allowed[a] = true
			}
			continue
		}
		n, _ := normalizeCap(c, nil)
		allowed[n] = true
	}
	caps := p.Capabilities
	for _, set := range [][]string{caps.Bounding, caps.Effective, caps.Permitted, caps.Inheritable, caps.Ambient} {
		for _, c := range set {
			if !allowed[c] {
				t.Fatalf("capability %s was not asked for", c)
			}
		}
	}
	for _, c := range append(slices.Clone(caps.Ambient), caps.Inheritable...) {
		asked := false
		for _, a := range capsReq.GetAddAmbientCapabilities() {
			if n, _ := normalizeCap(a, nil); n == c {
				asked = true
			}
		}
		if !asked {
			t.Fatalf("ambient/inheritable %s was not asked for", c)
		}
	}
	allows := 0
	for _, r := range s.Linux.Resources.Devices {
		if r.Allow {
			allows++
			if r.Major == nil || r.Minor == nil || r.Type == "" || r.Type == "a" {
				t.Fatalf("unprivileged device rule allows a class of devices: %+v", r)
			}
		}
	}
	if allows != len(s.Linux.Devices) || len(s.Linux.Devices) > len(in.Config.GetDevices()) {
		t.Fatalf("%d device rules for %d devices, %d requested", allows, len(s.Linux.Devices), len(in.Config.GetDevices()))
	}
	if len(s.Linux.MaskedPaths) == 0 || len(s.Linux.ReadonlyPaths) == 0 {
		t.Fatal("unprivileged container without masked or read-only paths")
	}
	if kind, _, err := ResolveSeccomp(sc.GetSeccomp(), sc.GetSeccompProfilePath(), ""); err != nil || (kind != SeccompUnconfined && s.Linux.Seccomp == nil) {
		t.Fatalf("seccomp %v asked, got %+v (%v)", kind, s.Linux.Seccomp, err)
	}
}

// fuzzSeed is one seed of the committed corpus.
type fuzzSeed struct {
	name      string
	cfg       *runtimeapi.ContainerConfig
	pod       *runtimeapi.PodSandboxConfig
	imageUser string
	profile   string
	flags     uint8
}

func fuzzSeeds() []fuzzSeed {
	withSC := func(edit func(*runtimeapi.LinuxContainerSecurityContext)) *runtimeapi.ContainerConfig {
		c := testContainerConfig()
		edit(c.Linux.SecurityContext)
		return c
	}
	privPod := testPodConfig()
	podSC(privPod).Privileged = true
	hostPod := testPodConfig()
	podSC(hostPod).NamespaceOptions = &runtimeapi.NamespaceOption{Network: node, Ipc: node, Pid: node}
	golden := goldenContainerInput()
	return []fuzzSeed{
		{name: "critest-default", cfg: testContainerConfig(), pod: testPodConfig()},
		{name: "golden", cfg: golden.Config, pod: golden.Sandbox, profile: blockChmodProfile, flags: fuzzSwap | fuzzRRO | fuzzRestrictOOM},
		{name: "image-cmd-and-user", cfg: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Args: []string{"x"}}, pod: testPodConfig(), imageUser: "www-data:wheel"},
		{name: "privileged-mounts-devices", pod: privPod, flags: fuzzCgroupV2 | fuzzSystemd | fuzzImageVolumes, cfg: func() *runtimeapi.ContainerConfig {
			c := withSC(func(sc *runtimeapi.LinuxContainerSecurityContext) { sc.Privileged = true })
			c.Mounts = []*runtimeapi.Mount{
				{ContainerPath: "/mnt", HostPath: "/tmp/mnt", Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL},
				{ContainerPath: "/iv", Readonly: true, Image: &runtimeapi.ImageSpec{Image: "busybox"}},
			}
			c.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rwm"}}
			c.Linux.Resources = &runtimeapi.LinuxContainerResources{Unified: map[string]string{"memory.high": "100000"}}
			return c
		}()},
		{name: "host-namespaces", pod: hostPod, cfg: withSC(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.NamespaceOptions = &runtimeapi.NamespaceOption{Network: node, Ipc: node, Pid: node}
		})},
		{name: "caps-seccomp-localhost", pod: testPodConfig(), profile: blockHostNameProfile, cfg: withSC(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.Capabilities = &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"SYS_ADMIN"}, AddAmbientCapabilities: []string{"NET_BIND_SERVICE"}}
			sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/tmp/block-host-name.json"}
		})},
		{name: "legacy-profiles", pod: testPodConfig(), flags: fuzzAppArmor, cfg: withSC(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.SeccompProfilePath = "runtime/default"
			sc.ApparmorProfile = "localhost/my-profile"
			sc.MaskedPaths = []string{"/bin/ls"}
			sc.ReadonlyPaths = []string{"/tmp"}
		})},
		{name: "user-strict", pod: testPodConfig(), cfg: withSC(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.RunAsUser, sc.RunAsGroup = i64(1000), i64(50000)
			sc.SupplementalGroups = []int64{1234}
			sc.SupplementalGroupsPolicy = runtimeapi.SupplementalGroupsPolicy_Strict
			sc.ReadonlyRootfs, sc.NoNewPrivs = true, true
		})},
		{name: "pid-target", pod: testPodConfig(), cfg: withSC(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.NamespaceOptions = &runtimeapi.NamespaceOption{Pid: target, TargetId: "other"}
			sc.RunAsUsername = "nobody"
		})},
		{name: "refused-rro", pod: testPodConfig(), cfg: func() *runtimeapi.ContainerConfig {
			c := testContainerConfig()
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/h", RecursiveReadOnly: true}}
			return c
		}()},
	}
}

const updateFuzzSeeds = "LOGBOOK_UPDATE_FUZZ_SEEDS"

// corpusFile renders a seed in the format of go test's fuzz corpus.
func corpusFile(t *testing.T, s fuzzSeed) []byte {
	opts := proto.MarshalOptions{Deterministic: true}
	cfg, err := opts.Marshal(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := opts.Marshal(s.pod)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range [][]byte{cfg, pod} {
		fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
	}
	fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(s.imageUser))
	for _, v := range []string{testPasswd, testGroup, s.profile} {
		fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(v))
	}
	fmt.Fprintf(&b, "uint8(%d)\n", s.flags)
	return []byte(b.String())
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzContainerSpec in step with
// fuzzSeeds (regenerate with LOGBOOK_UPDATE_FUZZ_SEEDS=1); the seeds
// themselves run as part of FuzzContainerSpec.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzContainerSpec")
	if os.Getenv(updateFuzzSeeds) != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	accepted := 0
	for _, s := range fuzzSeeds() {
		file := filepath.Join(dir, s.name)
		want := corpusFile(t, s)
		if os.Getenv(updateFuzzSeeds) != "" {
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != string(want) {
			t.Fatalf("seed %s is stale or missing (%v); regenerate with %s=1", file, err, updateFuzzSeeds)
		}
		in := fuzzInput(s.cfg, s.pod, s.imageUser, []byte(testPasswd), []byte(testGroup), []byte(s.profile), s.flags)
		if spec, user, err := ContainerSpec(in); err == nil {
			accepted++
			checkSane(t, &in, spec, user)
		}
	}
	// The corpus must reach past validation, or the fuzzer starts blind.
	if accepted < len(fuzzSeeds())-1 {
		t.Fatalf("only %d of %d seeds are accepted", accepted, len(fuzzSeeds()))
	}
}
