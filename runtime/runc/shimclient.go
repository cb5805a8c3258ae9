package runc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/runtime/shim"
)

// Shim is a handle on one container's shim: its exit (Wait), its socket
// (Attach, ReopenLog, Status). Create returns one; OpenShim makes one for a
// shim found after a restart. Closing the handle leaves the shim running.
// A shim launched by this process is its child until this process exits,
// and Wait is what reaps it: keep one Wait pending per container (as the
// daemon does to learn of exits anyway), or an exited shim stays a zombie.
type Shim struct {
	id, stateDir string
	pid          int // the shim's
	initPid      int // the container's init
	log          *slog.Logger

	// pidfd refers to the shim process for as long as the handle lives:
	// unlike a pid it cannot come to name another process. It is
	// non-blocking and registered with the runtime poller, so Wait blocks
	// no thread.
	pidfd *os.File

	waitMu sync.Mutex // serialises Wait (it moves pidfd's read deadline)
}

func newShim(id, stateDir string, pid int, log *slog.Logger) (*Shim, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return &Shim{id: id, stateDir: stateDir, pid: pid, log: log,
		pidfd: os.NewFile(uintptr(fd), "pidfd")}, nil
}

// OpenShim finds the shim of stateDir again, e.g. after logbookd restarted:
// it reads the shim's pid file and checks that the process is still that
// shim (same start time, same boot). ErrShimGone means there is no such
// process any more; the exit it may have recorded is then for ReadExit. A
// shim still inside runc create (the daemon died during Create) has no
// init pid yet: that is an error matching fs.ErrNotExist, and such a
// half-created container is for the caller to roll back.
func OpenShim(id, stateDir string, log *slog.Logger) (*Shim, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ident, err := shim.ReadPidFile(stateDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no pid file in %s", ErrShimGone, stateDir)
		}
		return nil, err
	}
	s, err := newShim(id, stateDir, ident.Pid, log)
	if errors.Is(err, unix.ESRCH) {
		return nil, fmt.Errorf("%w: pid %d", ErrShimGone, ident.Pid)
	}
	if err != nil {
		return nil, err
	}
	// Verified after pidfd_open, so the descriptor is known to refer to the
	// process that was checked.
	if err := shim.VerifyProcess("/proc", ident); err != nil {
		s.Close()
		if errors.Is(err, shim.ErrNotShim) {
			return nil, fmt.Errorf("%w: %w", ErrShimGone, err)
		}
		return nil, err
	}
	if s.initPid, err = shim.ReadInitPid(stateDir); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ID is the container's id.
func (s *Shim) ID() string { return s.id }

// StateDir is the shim's state directory.
func (s *Shim) StateDir() string { return s.stateDir }

// Pid is the shim's process id.
func (s *Shim) Pid() int { return s.pid }

// InitPid is the process id of the container's init (on the host).
func (s *Shim) InitPid() int { return s.initPid }

// Close releases the handle; the shim and its container keep running.
func (s *Shim) Close() error { return s.pidfd.Close() }

func (s *Shim) control(fn func(fd int) error) error {
	rc, err := s.pidfd.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// Wait blocks until the shim has exited, which it does once the container
// has exited and the exit is recorded, and returns that exit. It works the
// same for a shim this process launched (which it also reaps) and for one
// found by OpenShim. ErrShimDied: the shim ended without an exit file.
func (s *Shim) Wait(ctx context.Context) (shim.Exit, error) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if err := s.pidfd.SetReadDeadline(time.Time{}); err != nil {
		return shim.Exit{}, err
	}
	stop := context.AfterFunc(ctx, func() { s.pidfd.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := s.pidfd.SyscallConn()
	if err != nil {
		return shim.Exit{}, err
	}
	// A pidfd polls readable once its process has exited; until then the
	// callback says "not ready" and the poller parks this goroutine.
	err = rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(pfd, 0)
		return n > 0
	})
	if err != nil {
		if ctx.Err() != nil {
			return shim.Exit{}, ctx.Err()
		}
		return shim.Exit{}, err
	}
	// Reap the shim if it is our child; ECHILD when it is not (found after
	// a restart, or already reaped).
	s.control(func(fd int) error {
		var info unix.Siginfo
		return unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil)
	})
	e, err := ReadExit(s.stateDir)
	if errors.Is(err, shim.ErrNoExit) {
		return shim.Exit{}, fmt.Errorf("%w: %s (shim log: %s)", ErrShimDied, s.id, shimLogTail(s.stateDir))
	}
	return e, err
}

// ReadExit returns the exit recorded in a shim state directory, for a
// container that exited while nobody watched. An error matching
// shim.ErrNoExit means none is recorded.
func ReadExit(stateDir string) (shim.Exit, error) {
	return shim.ReadExitFile(stateDir)
}

// AttachOptions are the streams of an attach. A nil stream is not attached.
type AttachOptions struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Resize delivers terminal sizes (containers with a terminal only).
	Resize <-chan shim.TermSize
}

// Attach connects the given streams to the container's stdio: its output as
// it happens (from the moment of attaching: earlier output is in the log),
// and Stdin to its input. With a terminal, everything is on Stdout. Attach
// returns nil once the container has exited and its output has been
// delivered, or an error if ctx ends or the shim goes away. When Stdin ends,
// the container's stdin is closed if it was created with StdinOnce and this
// is its first attach.
//
// Attach does not wait for its copy of Stdin: a Read blocked in the
// caller's reader cannot be interrupted, so that goroutine ends at the first
// Read that returns after Attach has (its write then fails).
func (s *Shim) Attach(ctx context.Context, o AttachOptions) error {
	conn, err := shim.Dial(ctx, s.stateDir)
	if err != nil {
		return fmt.Errorf("attach %s: %w", s.id, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	req, _ := shim.AttachRequest{Stdin: o.Stdin != nil, Stdout: o.Stdout != nil, Stderr: o.Stderr != nil}.MarshalText()
	if _, err := conn.Write(shim.AppendFrame(nil, shim.KindAttach, req)); err != nil {
		return s.connErr(ctx, "attach", err)
	}
	fr := shim.NewFrameReader(conn)
	k, payload, err := fr.Next()
	if err != nil {
		return s.connErr(ctx, "attach", err)
	}
	if k == shim.KindError {
		return fmt.Errorf("attach %s: shim: %s", s.id, payload)
	}
	if k != shim.KindOK {
		return fmt.Errorf("attach %s: %w: answer %s", s.id, shim.ErrProtocol, k)
	}

	w := &frameWriter{conn: conn}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(done)
		wg.Wait()
	}()
	if o.Stdin != nil {
		go copyStdin(w, o.Stdin)
	}
	if o.Resize != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case ts, ok := <-o.Resize:
					if !ok {
						return
					}
					b, _ := ts.MarshalText()
					if w.write(shim.KindResize, b) != nil {
						return
					}
				case <-done:
					return
				}
			}
		}()
	}

	for {
		k, payload, err := fr.Next()
		if err != nil {
			return s.connErr(ctx, "attach", err)
		}
		switch k {
		case shim.KindStdout:
			if o.Stdout != nil {
				o.Stdout.Write(payload)
			}
		case shim.KindStderr:
			if o.Stderr != nil {
				o.Stderr.Write(payload)
			}
		case shim.KindDropped:
			s.log.Warn("attach missed container output", "id", s.id, "bytes", string(payload))
		case shim.KindExit:
			return nil
		default:
			return fmt.Errorf("attach %s: %w: frame %s", s.id, shim.ErrProtocol, k)
		}
	}
}

// frameWriter serialises the frames that several goroutines send.
type frameWriter struct {
	mu   sync.Mutex
	conn net.Conn
	buf  []byte
}

func (w *frameWriter) write(k shim.Kind, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = shim.AppendFrame(w.buf[:0], k, payload)
	_, err := w.conn.Write(w.buf)
	return err
}

// copyStdin forwards r as Stdin frames and ends with StdinClose.
func copyStdin(w *frameWriter, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if w.write(shim.KindStdin, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			w.write(shim.KindStdinClose, nil)
			return
		}
	}
}

func (s *Shim) connErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", op, s.id, ctx.Err())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s %s: %w: connection closed", op, s.id, ErrShimGone)
	}
	return fmt.Errorf("%s %s: %w", op, s.id, err)
}

// call sends one request and returns the payload of the OK answer.
func (s *Shim) call(ctx context.Context, k shim.Kind) ([]byte, error) {
	conn, err := shim.Dial(ctx, s.stateDir)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", k, s.id, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := conn.Write(shim.AppendFrame(nil, k, nil)); err != nil {
		return nil, s.connErr(ctx, k.String(), err)
	}
	ak, payload, err := shim.NewFrameReader(conn).Next()
	if err != nil {
		return nil, s.connErr(ctx, k.String(), err)
	}
	switch ak {
	case shim.KindOK:
		return payload, nil
	case shim.KindError:
		return nil, fmt.Errorf("%s %s: shim: %s", k, s.id, payload)
	}
	return nil, fmt.Errorf("%s %s: %w: answer %s", k, s.id, shim.ErrProtocol, ak)
}

// ReopenLog makes the shim reopen the container's log file (after the
// kubelet renamed it). When it returns nil, a file exists at the log path
// and receives every later line.
func (s *Shim) ReopenLog(ctx context.Context) error {
	_, err := s.call(ctx, shim.KindReopenLog)
	return err
}

// Status asks the shim about itself and its container.
func (s *Shim) Status(ctx context.Context) (shim.Status, error) {
	b, err := s.call(ctx, shim.KindStatus)
	if err != nil {
		return shim.Status{}, err
	}
	var st shim.Status
	err = st.UnmarshalText(b)
	return st, err
}
