package shim

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxSunPath is the room for a path in a sockaddr_un, minus the NUL.
const maxSunPath = 107

// withSocketPath calls fn with an address for dir/name that fits in a
// sockaddr_un. State directories of 64-hex-digit container ids under a deep
// root overflow the 107 bytes; then the address goes through an O_PATH
// descriptor of dir, as /proc/self/fd/N/name, which the kernel resolves like
// any path. The descriptor lives only for the duration of fn.
func withSocketPath(dir, name string, fn func(addr string) error) error {
	full := filepath.Join(dir, name)
	if len(full) <= maxSunPath {
		return fn(full)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	return fn("/proc/self/fd/" + strconv.Itoa(fd) + "/" + name)
}

// ListenUnix listens on dir/name, replacing a stale socket file. The
// listener does not remove the file on Close: the caller does, by its real
// path.
func ListenUnix(dir, name string) (*net.UnixListener, error) {
	os.Remove(filepath.Join(dir, name))
	var l *net.UnixListener
	err := withSocketPath(dir, name, func(addr string) error {
		var err error
		l, err = net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	return l, nil
}

// Dial connects to the shim socket in stateDir.
func Dial(ctx context.Context, stateDir string) (*net.UnixConn, error) {
	var c net.Conn
	err := withSocketPath(stateDir, SocketName, func(addr string) error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "unix", addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.(*net.UnixConn), nil
}

// consoleSocketPath is the path runc is given as --console-socket for a
// socket at dir/name: runc is another process, so a long path goes through
// this process's descriptor table as /proc/<pid>/fd/N; fd must stay open
// until runc has connected.
func consoleSocketPath(dir, name string) (path string, dirFD int, err error) {
	full := filepath.Join(dir, name)
	if len(full) <= maxSunPath {
		return full, -1, nil
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd) + "/" + name, fd, nil
}

// receiveFD reads one message carrying one descriptor (SCM_RIGHTS) from c,
// as runc sends a terminal's master over its console socket.
func receiveFD(c *net.UnixConn) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("%w: %d control messages on the console socket", ErrProtocol, len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("%w: %d descriptors on the console socket", ErrProtocol, len(fds))
	}
	unix.CloseOnExec(fds[0])
	// Non-blocking, so the runtime poller serves it and read deadlines work.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
