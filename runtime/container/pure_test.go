package container

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
)

func TestLogPath(t *testing.T) {
	cases := []struct {
		dir, rel, want string
		err            error
	}{
		{"/var/log/pods/p", "c/0.log", "/var/log/pods/p/c/0.log", nil},
		{"/var/log/pods/p/", "./c.log", "/var/log/pods/p/c.log", nil},
		{"/var/log/pods/p", "", "", nil},
		{"/var/log/pods/p", "../q/c.log", "", ErrLogPathEscape},
		{"/var/log/pods/p", "c/../../x.log", "", ErrLogPathEscape},
		{"/var/log/pods/p", "..", "", ErrLogPathEscape},
		{"/var/log/pods/p", ".", "", ErrLogPathEscape},
		{"/var/log/pods/p", "/etc/passwd", "", ErrLogPathEscape},
		{"", "/abs/c.log", "/abs/c.log", nil},
		{"", "rel.log", "", runtime.ErrInvalidArgument},
		{"relative/dir", "c.log", "", runtime.ErrInvalidArgument},
		{"/d", "a\x00b", "", ErrLogPathEscape},
	}
	for _, tc := range cases {
		got, err := LogPath(tc.dir, tc.rel)
		if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("LogPath(%q, %q) = %q, %v; want %q, %v", tc.dir, tc.rel, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, runtime.ErrInvalidArgument) {
			t.Errorf("LogPath(%q, %q): %v is not InvalidArgument", tc.dir, tc.rel, err)
		}
	}
}

func TestExitReason(t *testing.T) {
	cases := []struct {
		code  int32
		oom   bool
		given string
		want  string
	}{
		{0, false, "", "Completed"},
		{1, false, "", "Error"},
		{137, true, "", "OOMKilled"},
		{0, true, "", "OOMKilled"},
		{255, false, "Unknown", "Unknown"},
		{255, true, "Unknown", "OOMKilled"},
		{128, false, "StartError", "StartError"},
	}
	for _, tc := range cases {
		if got := ExitReason(tc.code, tc.oom, tc.given); got != tc.want {
			t.Errorf("ExitReason(%d, %v, %q) = %q, want %q", tc.code, tc.oom, tc.given, got, tc.want)
		}
	}
}

func TestSignalEnum(t *testing.T) {
	cases := map[syscall.Signal]runtimeapi.Signal{
		syscall.SIGTERM:    runtimeapi.Signal_SIGNAL_SIGTERM,
		syscall.SIGKILL:    runtimeapi.Signal_SIGNAL_SIGKILL,
		syscall.SIGUSR1:    runtimeapi.Signal_SIGNAL_SIGUSR1,
		syscall.Signal(34): runtimeapi.Signal_SIGNAL_SIGRTMIN, // the kernel's SIGRTMIN, as oci numbers it
		syscall.Signal(35): runtimeapi.Signal_SIGNAL_SIGRTMINPLUS1,
		syscall.Signal(64): runtimeapi.Signal_SIGNAL_SIGRTMAX,
		syscall.Signal(99): runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT,
	}
	for sig, want := range cases {
		if got := signalEnum(sig); got != want {
			t.Errorf("signalEnum(%d) = %v, want %v", sig, got, want)
		}
	}
}

func TestCheckPropagation(t *testing.T) {
	table := []*mountinfo.Info{
		{Mountpoint: "/", Optional: ""},
		{Mountpoint: "/shared", Optional: "shared:5"},
		{Mountpoint: "/slave", Optional: "master:3"},
		{Mountpoint: "/shared/private", Optional: ""},
		{Mountpoint: "/both", Optional: "shared:7 master:2"},
	}
	const (
		priv = runtimeapi.MountPropagation_PROPAGATION_PRIVATE
		h2c  = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
		bidi = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
	)
	cases := []struct {
		path string
		p    runtimeapi.MountPropagation
		ok   bool
	}{
		{"/data", priv, true},
		{"/data", h2c, false},
		{"/data", bidi, false},
		{"/shared/x", bidi, true},
		{"/shared/x", h2c, true},
		{"/sharedx", h2c, false}, // a prefix of the name is not a parent
		{"/slave/y", h2c, true},
		{"/slave/y", bidi, false},
		{"/shared/private/z", h2c, false},
		{"/both", bidi, true},
	}
	for _, tc := range cases {
		err := checkPropagation(table, tc.path, tc.p)
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: %v", tc.path, tc.p, err)
		}
		if err != nil && (!errors.Is(err, ErrPropagation) || !errors.Is(err, runtime.ErrFailedPrecondition)) {
			t.Errorf("%s %s: %v is not ErrPropagation/FailedPrecondition", tc.path, tc.p, err)
		}
	}
	// The top of a stack of mounts on one point wins.
	stack := []*mountinfo.Info{{Mountpoint: "/", Optional: ""}, {Mountpoint: "/m", Optional: ""}, {Mountpoint: "/m", Optional: "shared:9"}}
	if err := checkPropagation(stack, "/m/a", bidi); err != nil {
		t.Errorf("stacked mount: %v", err)
	}
}

// TestReadInRoot: symlinks are resolved inside the root, never out of it.
func TestReadInRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o644)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "real"), 0o755)
	os.WriteFile(filepath.Join(root, "real", "passwd"), []byte("inside"), 0o644)
	os.WriteFile(filepath.Join(root, "secret"), []byte("root's own"), 0o644)
	cases := map[string]string{
		"etc/passwd": "../real/passwd",                         // relative link within
		"etc/group":  "/real/passwd",                           // absolute link: the root's
		"etc/shadow": "../../../../" + outside[1:] + "/secret", // climbs out: clamped
		"etc/abs":    filepath.Join(outside, "secret"),         // absolute host path: the root's
	}
	for name, target := range cases {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"/etc/passwd": "inside", "/etc/group": "inside", "/etc/shadow": "", "/etc/abs": ""} {
		b, err := readInRoot(root, name)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	if b, err := readInRoot(root, "/etc/missing"); b != nil || err != nil {
		t.Errorf("missing: %q %v", b, err)
	}
	if _, err := readInRoot(root, "/etc"); err == nil {
		t.Error("a directory read as a file")
	}
}

func TestSpecConfig(t *testing.T) {
	hostPod := &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Ipc: runtimeapi.NamespaceMode_NODE}}}}
	bare := &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "c"}}
	got := specConfig(bare, hostPod)
	ns := got.GetLinux().GetSecurityContext().GetNamespaceOptions()
	if ns.GetNetwork() != runtimeapi.NamespaceMode_NODE || ns.GetIpc() != runtimeapi.NamespaceMode_NODE {
		t.Errorf("unset modes in a host pod: %v", ns)
	}
	if bare.GetLinux() != nil {
		t.Error("the request was modified")
	}
	if got := specConfig(bare, &runtimeapi.PodSandboxConfig{}); got != bare {
		t.Error("a pod-network pod changed the config")
	}
	explicit := &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER}}}}
	if got := specConfig(explicit, &runtimeapi.PodSandboxConfig{}); got != explicit {
		t.Error("a mismatch the request asked for explicitly was hidden (oci refuses it)")
	}
}
