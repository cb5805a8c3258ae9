package daemon

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// lockFile is an exclusive flock(2) on a file, held for the daemon's life.
// The kernel drops it when the process dies, however it dies, so a crashed
// daemon never leaves a stale lock. The holder's pid is written into the
// file for the operator and for the refusal message of the next daemon.
type lockFile struct {
	f *os.File
}

// staleLockWait bounds the wait for a lock whose recorded holder is gone.
const staleLockWait = 5 * time.Second

// lock takes the lock at path, creating the file if needed. A lock held
// while the daemon recorded in it lives is refused at once. One held
// while that daemon is gone is waited for, up to staleLockWait: a daemon
// killed while it was starting a process (a shim, runc, a CNI plugin)
// leaves that child between fork and exec holding a copy of every
// descriptor, the lock's included, until its exec closes them a moment
// later; a supervisor restarting the daemon at once must not fail on it.
func lock(path string) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	deadline := time.Now().Add(staleLockWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if holderAlive(path) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w%s", path, ErrLocked, holder(path))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The pid is informational; failing to write it is no reason to stop.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &lockFile{f: f}, nil
}

// holder describes the pid recorded in a held lock file, if any.
func holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		return fmt.Sprintf(" (pid %d)", pid)
	}
	return ""
}

// holderAlive tells whether the pid recorded in a lock file is a live
// process (not a zombie). An empty or unreadable file names nobody.
func holderAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	fields := strings.Fields(string(stat[i+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// unlock releases the lock. The file stays: removing a lock file races with
// the next daemon opening it.
func (l *lockFile) unlock() error {
	return l.f.Close()
}
