package shim

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOpenLogPathFollowsNoSymlink: the shim creates a missing log file and
// appends to an existing one, but never follows a symlink, in the last
// component or above it, and never opens what is not a regular file.
func TestOpenLogPathFollowsNoSymlink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	f, err := openLogPath(filepath.Join(dir, "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("line\n")
	f.Close()
	if f, err = openLogPath(filepath.Join(dir, "0.log")); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	f.Close()

	os.Symlink(filepath.Join(outside, "target.log"), filepath.Join(dir, "last.log"))
	os.Symlink(outside, filepath.Join(dir, "sub"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	for _, name := range []string{"last.log", "sub/0.log", "fifo.log", "adir"} {
		if f, err := openLogPath(filepath.Join(dir, name)); err == nil {
			f.Close()
			t.Errorf("%s: opened", name)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("a log was created outside: %v", ents)
	}
}
