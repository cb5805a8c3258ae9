package shim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestExitFromWaitStatus(t *testing.T) {
	at := time.Unix(5, 0)
	for _, tc := range []struct {
		name        string
		ws          unix.WaitStatus
		status, sig int
	}{
		{"exit 0", 0, 0, 0},
		{"exit 3", 3 << 8, 3, 0},
		{"exit 255", 255 << 8, 255, 0},
		{"SIGKILL", unix.WaitStatus(unix.SIGKILL), 137, 9},
		{"SIGSEGV with core", unix.WaitStatus(unix.SIGSEGV) | 0x80, 139, 11},
		{"SIGTERM", unix.WaitStatus(unix.SIGTERM), 143, 15},
	} {
		e := ExitFromWaitStatus(42, tc.ws, at)
		if e.Status != tc.status || e.Signal != tc.sig || e.Pid != 42 || !e.At.Equal(at) {
			t.Errorf("%s: %+v, want status %d signal %d", tc.name, e, tc.status, tc.sig)
		}
	}
}

func TestExitFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadExitFile(dir); !errors.Is(err, ErrNoExit) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no exit file: %v", err)
	}
	want := Exit{Pid: 3, Status: 143, Signal: 15, At: time.Unix(1700000000, 1)}
	if err := WriteExitFile(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadExitFile(dir)
	if err != nil || got.Status != want.Status || got.Signal != want.Signal || got.Pid != want.Pid || !got.At.Equal(want.At) {
		t.Fatalf("read %+v, %v; want %+v", got, err, want)
	}
	// Nothing but the file itself is left by the atomic write.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != ExitFileName {
		t.Errorf("directory holds %v", entries)
	}
	if err := os.WriteFile(filepath.Join(dir, ExitFileName), []byte("status=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadExitFile(dir); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated exit file: %v", err)
	}
	if err := WriteExitFile(filepath.Join(dir, "missing"), want); err == nil {
		t.Error("exit file written into a missing directory")
	}
}

func TestParseStartTime(t *testing.T) {
	// Field 22 of /proc/<pid>/stat; the command may hold spaces and ')'.
	tail := " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21"
	for _, comm := range []string{"(sh)", "(a b)", "(x) y)", "(())"} {
		st, err := parseStartTime([]byte("123 " + comm + tail))
		if err != nil || st != 987654 {
			t.Errorf("%s: %d, %v", comm, st, err)
		}
	}
	for _, bad := range []string{"", "123 (sh)", "123 (sh) S 1 2", "123 (sh) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x 20 21"} {
		if _, err := parseStartTime([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", bad, err)
		}
	}
}

func TestPidFileAndVerify(t *testing.T) {
	dir := t.TempDir()
	self, err := ProcIdentity("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePidFile(dir, self); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPidFile(dir)
	if err != nil || got != self {
		t.Fatalf("pid file %+v, %v; want %+v", got, err, self)
	}
	if err := VerifyProcess("/proc", got); err != nil {
		t.Errorf("this process does not verify: %v", err)
	}
	reused := self
	reused.StartTime++
	if err := VerifyProcess("/proc", reused); !errors.Is(err, ErrNotShim) {
		t.Errorf("other start time: %v, want ErrNotShim", err)
	}
	otherBoot := self
	otherBoot.BootID = "another-boot"
	if err := VerifyProcess("/proc", otherBoot); !errors.Is(err, ErrNotShim) {
		t.Errorf("other boot: %v, want ErrNotShim", err)
	}
	gone := self
	gone.Pid = 1 << 30 // above pid_max
	if err := VerifyProcess("/proc", gone); !errors.Is(err, ErrNotShim) {
		t.Errorf("missing process: %v, want ErrNotShim", err)
	}
}

func TestReadInitPid(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		pid     int
	}{{"1234", 1234}, {"1234\n", 1234}, {"x", 0}, {"0", 0}, {"-5", 0}} {
		os.WriteFile(filepath.Join(dir, InitPidFileName), []byte(tc.content), 0o644)
		pid, err := ReadInitPid(dir)
		if pid != tc.pid || (tc.pid == 0) != (err != nil) {
			t.Errorf("%q: %d, %v", tc.content, pid, err)
		}
	}
}
