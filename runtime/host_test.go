package runtime

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/runtime/oci"
)

func TestParseRuncFeatures(t *testing.T) {
	f, err := ParseRuncFeatures([]byte(`{"ociVersionMin":"1.0.0","mountOptions":["ro","rro","rbind"],"hooks":["prestart"]}`))
	if err != nil || !slices.Equal(f.MountOptions, []string{"ro", "rro", "rbind"}) {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := ParseRuncFeatures([]byte("runc: unknown command")); err == nil {
		t.Fatal("garbage parsed")
	}
}

// TestDetectHost runs the detection on this machine and checks each fact
// against the machine itself.
func TestDetectHost(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("no runc")
	}
	cg, err := cgroups.Detect()
	if err != nil {
		t.Skip("no cgroups:", err)
	}
	h, err := DetectHost(context.Background(), HostOptions{Cgroups: cg, Driver: cgroups.DriverCgroupfs, Runc: runc})
	if err != nil {
		t.Fatal(err)
	}
	if h.CgroupDriver != oci.Cgroupfs || h.CgroupV2 != (cg.Mode == cgroups.ModeUnified) || h.SwapAccounting != cg.SwapAccounting {
		t.Errorf("cgroup facts %+v from %+v", h, cg)
	}
	name, _ := os.Hostname()
	if h.NodeHostname != name || h.KernelRelease == "" {
		t.Errorf("hostname %q kernel %q", h.NodeHostname, h.KernelRelease)
	}
	// The clamp: when restricted, this process really cannot go below the
	// minimum; when not, it can.
	cur, _ := os.ReadFile("/proc/self/oom_score_adj")
	lower := os.WriteFile("/proc/self/oom_score_adj", []byte("-1"), 0)
	os.WriteFile("/proc/self/oom_score_adj", cur, 0)
	if h.RestrictOOMScoreAdj != (lower != nil) {
		t.Errorf("RestrictOOMScoreAdj %v, but writing -1: %v", h.RestrictOOMScoreAdj, lower)
	}
	_, apparmor := os.Stat("/sys/module/apparmor/parameters/enabled")
	if h.AppArmor && apparmor != nil {
		t.Error("AppArmor reported without its module")
	}
}

func TestHostDevices(t *testing.T) {
	devs, err := HostDevices("/dev")
	if err != nil {
		t.Fatal(err)
	}
	var null *oci.HostDevice
	for i := range devs {
		if devs[i].Path == "/dev/null" {
			null = &devs[i]
		}
		if filepath.Dir(devs[i].Path) == "/dev/pts" {
			t.Errorf("%s listed", devs[i].Path)
		}
	}
	if null == nil || null.Type != "c" || null.Major != 1 || null.Minor != 3 {
		t.Fatalf("/dev/null: %+v", null)
	}
	if _, ok := DeviceAt("/etc/hostname"); ok {
		t.Error("a regular file is a device")
	}
}

func TestBoundingCapabilities(t *testing.T) {
	status := []byte("Name:\tx\nCapPrm:\t0000000000000000\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n")
	caps, ok := BoundingCapabilities(status)
	if !ok || len(caps) != 40 || slices.Contains(caps, "CAP_SYS_RESOURCE") || caps[0] != "CAP_CHOWN" || caps[39] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("%d caps %v", len(caps), caps)
	}
	if caps, ok := BoundingCapabilities([]byte("CapBnd:\t0000000000000001\n")); !ok || !slices.Equal(caps, []string{"CAP_CHOWN"}) {
		t.Fatalf("%v", caps)
	}
	if _, ok := BoundingCapabilities([]byte("Name: x\n")); ok {
		t.Fatal("no CapBnd line parsed")
	}
}
