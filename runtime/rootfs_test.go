package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOverlayOptions(t *testing.T) {
	got := OverlayOptions([]string{"/l/top", "/l/bottom"}, "/c/upper", "/c/work")
	if got != "lowerdir=/l/top:/l/bottom,upperdir=/c/upper,workdir=/c/work" {
		t.Fatal(got)
	}
}

// TestMountOverlay mounts real overlays, a shallow one through mount(2)
// and one too deep for it through the new mount API, and checks the
// layer order and the unmount.
func TestMountOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, n := range []int{2, 60} {
		dir := t.TempDir()
		var lowers []string
		for i := 0; i < n; i++ {
			// Long names, so 60 layers exceed a page of options.
			l := filepath.Join(dir, strings.Repeat("l", 60)+string(rune('a'+i%26))+strings.Repeat("x", i))
			os.MkdirAll(l, 0o755)
			os.WriteFile(filepath.Join(l, "f"), []byte{byte('a' + i%26)}, 0o644)
			os.WriteFile(filepath.Join(l, "only"+strings.Repeat("x", i)), nil, 0o644)
			lowers = append(lowers, l)
		}
		upper, work, target := filepath.Join(dir, "u"), filepath.Join(dir, "w"), filepath.Join(dir, "t")
		for _, d := range []string{upper, work, target} {
			os.MkdirAll(d, 0o755)
		}
		if n == 60 && len(OverlayOptions(lowers, upper, work)) <= maxMountData {
			t.Fatal("the deep case fits in a page")
		}
		if err := MountOverlay(lowers, upper, work, target); err != nil {
			t.Fatalf("%d layers: %v", n, err)
		}
		if b, _ := os.ReadFile(filepath.Join(target, "f")); string(b) != "a" {
			t.Errorf("%d layers: top layer's file reads %q", n, b)
		}
		if _, err := os.Stat(filepath.Join(target, "only"+strings.Repeat("x", n-1))); err != nil {
			t.Errorf("%d layers: bottom layer not visible: %v", n, err)
		}
		os.WriteFile(filepath.Join(target, "new"), nil, 0o644)
		if _, err := os.Stat(filepath.Join(upper, "new")); err != nil {
			t.Errorf("write did not reach the upper layer")
		}
		if ok, _ := Mounted(target); !ok {
			t.Error("not mounted")
		}
		if ms, _ := MountsUnder(dir); len(ms) != 1 || ms[0] != target {
			t.Errorf("MountsUnder = %v", ms)
		}
		if err := Unmount(target); err != nil {
			t.Fatal(err)
		}
		if ok, _ := Mounted(target); ok {
			t.Error("still mounted")
		}
		if err := Unmount(target); err != nil {
			t.Errorf("second unmount: %v", err)
		}
		if err := Unmount(filepath.Join(dir, "missing")); err != nil {
			t.Errorf("unmount of a missing path: %v", err)
		}
	}
}
