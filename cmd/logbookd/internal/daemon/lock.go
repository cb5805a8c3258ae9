package daemon

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockFile is an exclusive flock(2) on a file, held for the daemon's life.
// The kernel drops it when the process dies, however it dies, so a crashed
// daemon never leaves a stale lock. The holder's pid is written into the
// file for the operator and for the refusal message of the next daemon.
type lockFile struct {
	f *os.File
}

// lock takes the lock at path without waiting, creating the file if needed.
func lock(path string) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("lock %s: %w%s", path, ErrLocked, holder(path))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
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

// unlock releases the lock. The file stays: removing a lock file races with
// the next daemon opening it.
func (l *lockFile) unlock() error {
	return l.f.Close()
}
