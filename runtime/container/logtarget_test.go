package container

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/logbook-cri/logbook/runtime"
)

// TestLogTarget: the log directory's own symlinks are resolved, a symlink
// (or a non-directory, or a non-file last) below it is refused, and what
// does not exist yet is fine.
func TestLogTarget(t *testing.T) {
	base := t.TempDir()
	real, outside := filepath.Join(base, "real"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(real, "pod", "c"), outside} {
		os.MkdirAll(d, 0o755)
	}
	os.Symlink(real, filepath.Join(base, "link"))
	dir := filepath.Join(base, "link", "pod")
	os.Symlink(outside, filepath.Join(real, "pod", "sub"))
	os.Symlink(filepath.Join(outside, "x"), filepath.Join(real, "pod", "final.log"))
	os.WriteFile(filepath.Join(real, "pod", "file"), nil, 0o644)
	syscall.Mkfifo(filepath.Join(real, "pod", "fifo.log"), 0o644)

	for _, tc := range []struct {
		dir, rel, want string
		err            error
	}{
		{dir, "c/0.log", filepath.Join(real, "pod", "c", "0.log"), nil},
		{dir, "new/deeper/0.log", filepath.Join(real, "pod", "new", "deeper", "0.log"), nil},
		{filepath.Join(base, "link", "missing"), "0.log", filepath.Join(real, "missing", "0.log"), nil},
		{"", filepath.Join(base, "link", "pod", "abs.log"), filepath.Join(real, "pod", "abs.log"), nil},
		{dir, "sub/0.log", "", ErrLogPathEscape},
		{dir, "final.log", "", ErrLogPathEscape},
		{dir, "file/0.log", "", runtime.ErrInvalidArgument},
		{dir, "fifo.log", "", runtime.ErrInvalidArgument},
		{dir, "c", "", runtime.ErrInvalidArgument},
		{"", filepath.Join(real, "pod", "final.log"), "", ErrLogPathEscape},
	} {
		p, err := LogPath(tc.dir, tc.rel)
		if err != nil {
			t.Fatalf("LogPath(%q, %q): %v", tc.dir, tc.rel, err)
		}
		realDir, got, err := logTarget(tc.dir, p)
		if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("logTarget(%q, %q) = %q, %v; want %q, %v", tc.dir, p, got, err, tc.want, tc.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, runtime.ErrInvalidArgument) {
				t.Errorf("%q: %v is not InvalidArgument", tc.rel, err)
			}
			continue
		}
		if err := makeLogDir(realDir, got); err != nil {
			t.Errorf("makeLogDir(%q, %q): %v", realDir, got, err)
		} else if st, err := os.Stat(filepath.Dir(got)); err != nil || !st.IsDir() {
			t.Errorf("makeLogDir(%q, %q) made no directory: %v", realDir, got, err)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("something was made outside: %v", ents)
	}

	// A link planted between the check and the creation of the directories
	// makes the creation fail instead of following it.
	realDir, target, err := logTarget(dir, filepath.Join(dir, "late", "inner", "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink(outside, filepath.Join(real, "pod", "late"))
	if err := makeLogDir(realDir, target); err == nil {
		t.Error("makeLogDir followed a symlink planted after the check")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("something was made outside: %v", ents)
	}
}
