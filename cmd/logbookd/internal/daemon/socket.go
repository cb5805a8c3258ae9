package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// socketMode lets the owner and the group (a kubelet or crictl run by an
// operator group) connect, and nobody else.
const socketMode = 0o660

// listenSocket creates the socket's directory, then listens on path with
// socketMode. What may already be at path decides:
//
//   - nothing: listen;
//   - a socket nobody answers on (left by a daemon that died): remove it,
//     then listen;
//   - a socket something answers on: refuse with ErrSocketInUse and leave it;
//   - anything else: refuse with ErrNotSocket and leave it.
//
// The caller holds the socket's lock file, so no other logbookd decides
// about the same path at the same time.
func listenSocket(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	switch state, err := probeSocket(path); {
	case err != nil:
		return nil, err
	case state == socketLive:
		return nil, fmt.Errorf("%s: %w", path, ErrSocketInUse)
	case state == socketStale:
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The socket is created with the process umask; tighten it before the
	// first accept. Its directory (0711) lets nobody list or create in it.
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	return ln, nil
}

type socketState int

const (
	socketAbsent socketState = iota
	socketStale
	socketLive
)

// probeSocket tells what is at path: nothing, a socket nobody listens on, or
// a live one.
func probeSocket(path string) (socketState, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return socketAbsent, nil
	}
	if err != nil {
		return 0, fmt.Errorf("socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return 0, fmt.Errorf("%s: %w (%s)", path, ErrNotSocket, fi.Mode().Type())
	}
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		conn.Close()
		return socketLive, nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return socketStale, nil
	}
	// A listener with a full backlog makes a non-blocking connect fail with
	// EAGAIN: it is alive, merely busy.
	if errors.Is(err, syscall.EAGAIN) {
		return socketLive, nil
	}
	return 0, fmt.Errorf("probe socket %s: %w", path, err)
}
