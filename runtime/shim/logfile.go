package shim

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// logFile is the CRI log file seen from the output pumps. Write queues an
// entry in a spool that run, the writer goroutine, appends to the file; a
// disk that keeps up slows the container down like a pipe would, a disk
// that hangs (or a file that cannot be opened) makes entries be dropped and
// counted. Reopen swaps the file under the writer, which is how the kubelet
// rotates logs.
type logFile struct {
	path  string
	spool *spool

	fileMu sync.Mutex // guards file; held by the writer for each batch
	file   *os.File   // nil while the path cannot be opened

	finished         chan struct{} // closed when run returns
	written, dropped atomic.Uint64
}

// openLogFile returns a logFile even when the file cannot be opened (then
// with the error): entries are dropped until a Reopen succeeds.
func openLogFile(path string, limit int, stall time.Duration) (*logFile, error) {
	l := &logFile{path: path, spool: newSpool(limit, stall), finished: make(chan struct{})}
	f, err := openLogPath(path)
	l.file = f
	return l, err
}

// openLogPath opens (creating it) the log file at path, which the daemon
// resolved to hold no symlink: one found there now was planted since (in
// the pod's log directory, by whoever can write there), and following it
// would write the log, as root, wherever it points. So no symlink is
// followed (openat2 RESOLVE_NO_SYMLINKS; O_NOFOLLOW on a kernel without
// it, which still refuses a link in the last component), and the file must
// be a regular one (O_NONBLOCK: a FIFO planted there does not hang the
// open).
func openLogPath(path string) (*os.File, error) {
	const flags = unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{Flags: flags, Mode: 0o640, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if errors.Is(err, unix.ENOSYS) {
		fd, err = unix.Open(path, flags, 0o640)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if err == nil {
			err = fmt.Errorf("log %s is not a regular file", path)
		}
		return nil, err
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Write queues one entry; it never fails.
func (l *logFile) Write(entry []byte) (int, error) {
	if !l.spool.put(len(entry), 1, func(b []byte) []byte { return append(b, entry...) }) {
		l.dropped.Add(1)
	}
	return len(entry), nil
}

// run writes batches until the spool is closed and empty.
func (l *logFile) run() {
	defer close(l.finished)
	for {
		batch, n, ok := l.spool.take(nil)
		if !ok {
			return
		}
		l.writeBatch(batch, n)
		l.spool.recycle(batch)
	}
}

func (l *logFile) writeBatch(batch []byte, n uint64) {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.file == nil {
		l.dropped.Add(n)
		return
	}
	if _, err := l.file.Write(batch); err != nil {
		// A short write may have kept part of the batch; the count cannot
		// say which entries made it, so it counts the batch as lost.
		l.dropped.Add(n)
		return
	}
	l.written.Add(n)
}

// Reopen closes the current file and opens the path again. When it returns
// without error a file exists at the path and every later entry goes there.
func (l *logFile) Reopen() error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
	f, err := openLogPath(l.path)
	if err != nil {
		return fmt.Errorf("reopen log: %w", err)
	}
	l.file = f
	return nil
}

// close stops accepting entries, waits (up to timeout) for the queue to be
// written and closes the file. It reports whether the queue was drained in
// time; if not, the writer is stuck in the kernel and is left there. There
// is no fsync: what readers need is that the entries were written, and an
// fsync of a chatty container's log would hold up the exit record.
func (l *logFile) close(timeout time.Duration) bool {
	l.spool.close()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-l.finished:
	case <-t.C:
		return false
	}
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
	return true
}
