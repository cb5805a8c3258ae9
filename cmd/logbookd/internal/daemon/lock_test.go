package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdLock takes path's flock through a descriptor of its own (another
// open file description, as another process would have), after writing
// pid into the file as the daemon that took it would have.
func holdLock(t *testing.T, path string, pid int) *os.File {
	t.Helper()
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLockHeldByLiveDaemon: a lock whose recorded holder lives is refused
// at once, naming it.
func TestLockHeldByLiveDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockName)
	held := holdLock(t, path, os.Getpid())
	defer held.Close()
	start := time.Now()
	_, err := lock(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("lock: %v, want ErrLocked", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refused after %v; a live holder is refused at once", took)
	}
}

// TestLockLeftByDeadDaemon: a lock still held after its daemon died (a
// child it forked has not exec'd yet) is waited for, and taken once the
// descriptor goes; if it never goes, the wait is bounded.
func TestLockLeftByDeadDaemon(t *testing.T) {
	dead := exitedPid(t)
	path := filepath.Join(t.TempDir(), LockName)
	held := holdLock(t, path, dead)
	go func() {
		time.Sleep(200 * time.Millisecond)
		held.Close()
	}()
	l, err := lock(path)
	if err != nil {
		t.Fatalf("lock after the dead daemon's descriptor closed: %v", err)
	}
	l.unlock()

	held = holdLock(t, path, dead)
	defer held.Close()
	start := time.Now()
	if _, err := lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock held for good: %v, want ErrLocked", err)
	}
	if took := time.Since(start); took < staleLockWait || took > staleLockWait+2*time.Second {
		t.Errorf("gave up after %v, want about %v", took, staleLockWait)
	}
}

// exitedPid is the pid of a process that has exited and been reaped.
func exitedPid(t *testing.T) int {
	t.Helper()
	var attr os.ProcAttr
	p, err := os.StartProcess("/bin/true", []string{"true"}, &attr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}
