package shim

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLogFileWritesAndReopens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ctr.log")
	l, err := openLogFile(path, 1<<20, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); l.run() }()
	l.Write([]byte("one\n"))
	waitFor(t, "first entry on disk", func() bool { return fileContent(path) == "one\n" })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no file after Reopen: %v", err)
	}
	l.Write([]byte("two\n"))
	if !l.close(5 * time.Second) {
		t.Fatal("close did not drain")
	}
	<-done
	if got := fileContent(path); got != "two\n" {
		t.Errorf("new file %q", got)
	}
	if got := fileContent(path + ".1"); got != "one\n" {
		t.Errorf("rotated file %q", got)
	}
	if l.written.Load() != 2 || l.dropped.Load() != 0 {
		t.Errorf("written %d dropped %d", l.written.Load(), l.dropped.Load())
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	// After close, entries are dropped, not queued.
	l.Write([]byte("late\n"))
	if l.dropped.Load() != 1 {
		t.Errorf("entry after close: dropped %d", l.dropped.Load())
	}
}

func TestLogFileDropsWhenBacklogFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	l, err := openLogFile(path, 10, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// The writer is not running yet: the backlog only fills.
	for _, e := range []string{"aaaa\n", "bbbb\n", "cccc\n", "dd\n"} {
		if n, err := l.Write([]byte(e)); n != len(e) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); l.run() }()
	if !l.close(5 * time.Second) {
		t.Fatal("close did not drain")
	}
	<-done
	if got := fileContent(path); got != "aaaa\nbbbb\n" {
		t.Errorf("file %q", got)
	}
	if l.written.Load() != 2 || l.dropped.Load() != 2 {
		t.Errorf("written %d dropped %d, want 2 and 2", l.written.Load(), l.dropped.Load())
	}
}

func TestLogFileWithoutDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pod", "ctr.log")
	l, err := openLogFile(path, 1<<10, time.Second)
	if err == nil {
		t.Fatal("opened a log in a missing directory")
	}
	done := make(chan struct{})
	go func() { defer close(done); l.run() }()
	l.Write([]byte("lost\n"))
	waitFor(t, "the entry counted as dropped", func() bool { return l.dropped.Load() == 1 })
	if err := l.Reopen(); err == nil {
		t.Error("reopen succeeded without the directory")
	}
	// Once the directory exists, a reopen recovers.
	os.Mkdir(filepath.Join(dir, "pod"), 0o755)
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("kept\n"))
	l.close(5 * time.Second)
	<-done
	if got := fileContent(path); got != "kept\n" {
		t.Errorf("file %q", got)
	}
}

func fileContent(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
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
