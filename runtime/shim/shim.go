package shim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Timeouts of the shim's end: how long output may keep flowing after the
// container's init has exited (background processes holding its pipes), how
// long the log may take to reach the disk, and how long attached clients get
// to read the end of the stream.
const (
	drainTimeout  = 2 * time.Second
	logTimeout    = 5 * time.Second
	clientTimeout = 2 * time.Second
)

// Detach makes the calling process a shim: leader of a new session (no
// terminal and no process group shared with its launcher, so signals sent
// to the daemon's group do not reach it) and child sub-reaper (processes
// orphaned below it, first of all the container's init once runc exits, are
// re-parented to it and reaped by it). It also points the process's stdio at
// the state directory's shim.log (stdout, stderr: a panic ends up there) and
// /dev/null (stdin), and returns that log file.
func Detach(stateDir string) (*os.File, error) {
	if _, err := unix.Setsid(); err != nil && err != unix.EPERM {
		// EPERM: already a group leader, because the launcher asked for
		// a new session itself.
		return nil, fmt.Errorf("setsid: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("set child subreaper: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(stateDir, ShimLogName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		logf.Close()
		return nil, err
	}
	defer null.Close()
	for _, d := range []struct{ from, to int }{
		{int(null.Fd()), 0}, {int(logf.Fd()), 1}, {int(logf.Fd()), 2},
	} {
		if err := unix.Dup3(d.from, d.to, 0); err != nil {
			logf.Close()
			return nil, fmt.Errorf("redirect fd %d: %w", d.to, err)
		}
	}
	return logf, nil
}

// Run is the life of a shim, in a process made one by Detach: create the
// container with runc, report readiness, serve its stdio and socket, and
// when its init exits, drain the output, record the exit and return. It
// returns an error wrapping ErrCreateFailed when runc create failed (after
// reporting it on the readiness descriptor).
func Run(cfg Config, log Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var ready *os.File
	if cfg.ReadyFD > 0 {
		// Not for runc and the container to inherit.
		unix.CloseOnExec(cfg.ReadyFD)
		ready = os.NewFile(uintptr(cfg.ReadyFD), "ready")
	}
	// Called exactly once on every path below: it also closes the pipe,
	// which is what ends the launcher's read.
	report := func(r Ready) {
		if ready == nil {
			return
		}
		b, _ := r.MarshalText()
		if _, err := ready.Write(b); err != nil {
			log.Warn("readiness report lost", "err", err)
		}
		ready.Close()
		ready = nil
	}

	self, err := ProcIdentity("/proc", os.Getpid())
	if err == nil {
		err = WritePidFile(cfg.StateDir, self)
	}
	if err != nil {
		report(Ready{Error: "shim: " + err.Error()})
		return err
	}

	// Registered before any child exists, so that no SIGCHLD is missed; the
	// reaper only starts draining once runc create has been waited for.
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, unix.SIGCHLD)
	defer signal.Stop(sigchld)
	// No signal.Ignore here, tempting as SIGHUP or SIGPIPE are: an ignored
	// disposition survives exec, into runc and whatever runc does not reset.

	c, err := create(cfg, log)
	if err != nil {
		// runc's own words, for the daemon to pass on.
		report(Ready{Error: err.Error()})
		return fmt.Errorf("%w: %w", ErrCreateFailed, err)
	}
	log.Info("container created", "init_pid", c.initPid)

	r := newRunning(cfg, c, log)
	exited := make(chan Exit, 1)
	stopReaper := make(chan struct{})
	var reaperDone sync.WaitGroup
	reaperDone.Add(1)
	go func() {
		defer reaperDone.Done()
		reap(sigchld, stopReaper, c.initPid, exited, log)
	}()
	defer func() {
		close(stopReaper)
		reaperDone.Wait()
	}()

	if err := r.start(); err != nil {
		// The container exists but cannot be served: better gone than
		// running unattended. Killing init makes the reaper report it.
		log.Error("serve", "err", err)
		unix.Kill(c.initPid, unix.SIGKILL)
		report(Ready{Error: "shim: " + err.Error()})
		e := <-exited
		r.stop(e)
		return err
	}
	report(Ready{InitPid: c.initPid})
	// Hand the garbage of the create phase back to the kernel now: the
	// shim may then idle for months, and its resident size is what counts.
	debug.FreeOSMemory()

	e := <-exited
	log.Info("container exited", "status", e.Status, "signal", e.Signal)
	r.stop(e)
	return nil
}

// created is what runc create leaves the shim: the init pid and the shim's
// ends of the container's stdio.
type created struct {
	initPid int
	stdin   *os.File // write end of the stdin pipe; nil without stdin or with a terminal
	stdout  *os.File // read end of the stdout pipe; nil with a terminal
	stderr  *os.File // read end of the stderr pipe; nil with a terminal
	console *os.File // terminal master; nil without a terminal
}

// create runs runc create with the container's stdio and waits for it. A
// failure of runc is an error whose text is runc's message.
func create(cfg Config, log Logger) (_ *created, err error) {
	c := &created{}
	var childEnds []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
		if err != nil {
			for _, f := range []*os.File{c.stdin, c.stdout, c.stderr, c.console} {
				if f != nil {
					f.Close()
				}
			}
		}
	}()

	runcLog := filepath.Join(cfg.StateDir, RuncLogName)
	os.Remove(runcLog)
	args := []string{"--root", cfg.RuncRoot, "--log", runcLog, "--log-format", "json"}
	if cfg.SystemdCgroup {
		args = append(args, "--systemd-cgroup")
	}
	if cfg.Start {
		args = append(args, "run", "--detach")
	} else {
		args = append(args, "create")
	}
	args = append(args, "--bundle", cfg.Bundle, "--pid-file", filepath.Join(cfg.StateDir, InitPidFileName))
	cmd := exec.Command(cfg.Runc)

	var console chan consoleResult
	var consoleLn *net.UnixListener
	if cfg.Terminal {
		ln, err := ListenUnix(cfg.StateDir, ConsoleSocketName)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		consoleLn = ln
		defer os.Remove(filepath.Join(cfg.StateDir, ConsoleSocketName))
		defer ln.Close()
		path, dirFD, err := consoleSocketPath(cfg.StateDir, ConsoleSocketName)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		if dirFD >= 0 {
			defer unix.Close(dirFD)
		}
		args = append(args, "--console-socket", path)
		console = make(chan consoleResult, 1)
		go acceptConsole(ln, console)
	} else {
		if cfg.Stdin {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			childEnds = append(childEnds, r)
			c.stdin, cmd.Stdin = w, r
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		childEnds = append(childEnds, w)
		c.stdout, cmd.Stdout = r, w
		if r, w, err = os.Pipe(); err != nil {
			return nil, err
		}
		childEnds = append(childEnds, w)
		c.stderr, cmd.Stderr = r, w
	}
	cmd.Args = append([]string{cfg.Runc}, append(args, cfg.ID)...)

	runErr := cmd.Run()
	if console != nil {
		if runErr != nil {
			// runc may never have connected: closing the listener ends the
			// accept. Not on success: runc's connection may still be in
			// the listen queue, and closing would drop it.
			consoleLn.Close()
		}
		res := <-console
		if res.f != nil && runErr != nil {
			res.f.Close()
		}
		if runErr == nil {
			if res.err != nil {
				return nil, fmt.Errorf("receive terminal: %w", res.err)
			}
			c.console = res.f
		}
	}
	if runErr != nil {
		return nil, errors.New(runcError(runcLog, runErr))
	}
	if c.initPid, err = ReadInitPid(cfg.StateDir); err != nil {
		return nil, err
	}
	return c, nil
}

type consoleResult struct {
	f   *os.File
	err error
}

func acceptConsole(ln *net.UnixListener, out chan<- consoleResult) {
	conn, err := ln.AcceptUnix()
	if err != nil {
		out <- consoleResult{err: err}
		return
	}
	defer conn.Close()
	f, err := receiveFD(conn)
	out <- consoleResult{f: f, err: err}
}

// runcError is the last error runc logged (its --log-format json file), or
// failing that how it exited.
func runcError(logPath string, runErr error) string {
	b, _ := os.ReadFile(logPath)
	if msg := LastRuncError(b); msg != "" {
		return msg
	}
	return "runc: " + runErr.Error()
}

// LastRuncError returns the message of the last error-level entry in a runc
// log written with --log-format json, or "". Entries are one JSON object a
// line, as logrus writes them; the two fields it needs are read without a
// JSON decoder, which would weigh more in the shim than all the rest of
// this file.
func LastRuncError(log []byte) string {
	var msg string
	for _, line := range bytes.Split(log, []byte{'\n'}) {
		level, ok := jsonStringField(line, "level")
		if !ok || (level != "error" && level != "fatal") {
			continue
		}
		if m, ok := jsonStringField(line, "msg"); ok {
			msg = m
		}
	}
	return strings.TrimSpace(msg)
}

// jsonStringField finds "key":"value" in one flat JSON object and decodes
// the value. Inside a JSON string every quote is escaped, so an unescaped
// `"key":"` can only be the key itself.
func jsonStringField(obj []byte, key string) (string, bool) {
	i := bytes.Index(obj, []byte(`"`+key+`":"`))
	if i < 0 {
		return "", false
	}
	v := obj[i+len(key)+4:]
	end := -1
	for j := 0; j < len(v); j++ {
		if v[j] == '\\' {
			j++
			continue
		}
		if v[j] == '"' {
			end = j
			break
		}
	}
	if end < 0 {
		return "", false
	}
	// JSON's escapes are Go's, but for `\/`.
	raw := strings.ReplaceAll(string(v[:end]), `\/`, `/`)
	s, err := strconv.Unquote(`"` + raw + `"`)
	if err != nil {
		return "", false
	}
	return s, true
}

// reap collects every child that exits (the shim is a sub-reaper, so these
// include orphans) and reports the container's init on exited.
func reap(sigchld <-chan os.Signal, stop <-chan struct{}, initPid int, exited chan<- Exit, log Logger) {
	for {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			if pid == initPid {
				exited <- ExitFromWaitStatus(pid, ws, time.Now())
				initPid = 0 // its pid may be reused by a later orphan
			} else {
				log.Debug("reaped orphan", "pid", pid, "status", int(ws))
			}
		}
		select {
		case <-sigchld:
		case <-stop:
			return
		}
	}
}

// running is a created container being served: its output pumps, its log,
// its socket.
type running struct {
	cfg Config
	c   *created
	log Logger

	logFile *logFile // nil without a log path
	crilog  *CRILog  // nil without a log path
	hub     *hub
	stdin   *stdinPort // nil without stdin
	srv     *server

	pumps   sync.WaitGroup
	logDone sync.WaitGroup
	exited  chan struct{} // closed when init has exited
}

func newRunning(cfg Config, c *created, log Logger) *running {
	return &running{cfg: cfg, c: c, log: log, hub: newHub(DefaultSpoolLimit, stallTimeout), exited: make(chan struct{})}
}

func (r *running) start() error {
	cfg, c := r.cfg, r.c
	if cfg.LogPath != "" {
		lf, err := openLogFile(cfg.LogPath, DefaultSpoolLimit, stallTimeout)
		if err != nil {
			// Not fatal: entries are dropped and counted until a reopen
			// succeeds.
			r.log.Warn("open container log", "err", err)
		}
		r.logFile = lf
		r.crilog = NewCRILog(lf, time.Now, DefaultMaxLogLine, cfg.Terminal)
		r.logDone.Add(1)
		go func() {
			defer r.logDone.Done()
			lf.run()
		}()
	}
	if cfg.Terminal && cfg.Stdin {
		master := c.console
		r.stdin = &stdinPort{w: master, once: cfg.StdinOnce, close: func() {
			// A terminal has no separate input to close: send the end of
			// file character, which ends the input of a reader in
			// canonical mode (a shell, cat).
			master.Write([]byte{4})
		}}
	} else if cfg.Stdin {
		r.stdin = &stdinPort{w: c.stdin, once: cfg.StdinOnce, close: func() { c.stdin.Close() }}
	}

	ln, err := ListenUnix(cfg.StateDir, SocketName)
	if err != nil {
		r.stopLog()
		return fmt.Errorf("listen: %w", err)
	}
	r.srv = &server{ln: ln, hub: r.hub, stdin: r.stdin, reopen: r.reopenLog, status: r.status, log: r.log}
	if cfg.Terminal {
		r.srv.resize = r.resize
	}
	r.srv.start()

	if cfg.Terminal {
		r.pump(c.console, Stdout, KindStdout)
	} else {
		r.pump(c.stdout, Stdout, KindStdout)
		r.pump(c.stderr, Stderr, KindStderr)
	}
	return nil
}

// pump copies one output stream to the log and the attached clients until
// it ends (EOF, or EIO for a terminal whose other side is closed) or its
// read deadline passes.
func (r *running) pump(f *os.File, s Stream, k Kind) {
	r.pumps.Add(1)
	go func() {
		defer r.pumps.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if r.crilog != nil {
					r.crilog.Write(s, buf[:n])
				}
				r.hub.broadcast(k, buf[:n])
			}
			if err != nil {
				if err != io.EOF && !errors.Is(err, unix.EIO) && !errors.Is(err, os.ErrDeadlineExceeded) {
					r.log.Warn("read container output", "stream", s.String(), "err", err)
				}
				break
			}
		}
		if r.crilog != nil {
			r.crilog.Flush(s)
		}
	}()
}

func (r *running) reopenLog() error {
	if r.logFile == nil {
		return errors.New("container has no log path")
	}
	return r.logFile.Reopen()
}

func (r *running) resize(ts TermSize) error {
	rc, err := r.c.console.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: ts.Height, Col: ts.Width})
	})
	if err == nil {
		err = ierr
	}
	return err
}

func (r *running) status() Status {
	st := Status{
		ShimPid: os.Getpid(),
		InitPid: r.c.initPid,
		LogPath: r.cfg.LogPath,
		Clients: r.hub.count(),

		AttachDropped: r.hub.dropped.Load(),
	}
	select {
	case <-r.exited:
		st.Exited = true
	default:
	}
	if r.stdin != nil {
		st.StdinOpen = r.stdin.isOpen()
	}
	if r.logFile != nil {
		st.LogEntries = r.logFile.written.Load()
		st.LogDropped = r.logFile.dropped.Load()
	}
	return st
}

func (r *running) stopLog() {
	if r.logFile == nil {
		return
	}
	if !r.logFile.close(logTimeout) {
		r.log.Error("container log not drained in time", "path", r.cfg.LogPath)
		return // its writer is stuck in the kernel; the process exit ends it
	}
	r.logDone.Wait()
}

// stop is the end of the container, in the order the package documentation
// promises: output drained into the log, the log synced, the exit file
// written, then the clients told and the socket closed.
func (r *running) stop(e Exit) {
	close(r.exited)
	if r.stdin != nil {
		r.stdin.release()
	}
	c := r.c
	if c.stdin != nil {
		c.stdin.Close()
	}
	deadline := time.Now().Add(drainTimeout)
	for _, f := range []*os.File{c.stdout, c.stderr, c.console} {
		if f != nil {
			f.SetReadDeadline(deadline)
		}
	}
	r.pumps.Wait()
	for _, f := range []*os.File{c.stdout, c.stderr, c.console} {
		if f != nil {
			f.Close()
		}
	}
	r.stopLog()
	if err := WriteExitFile(r.cfg.StateDir, e); err != nil {
		r.log.Error("exit file", "err", err)
	}
	if r.srv != nil {
		r.hub.finish(e, clientTimeout)
		r.srv.close()
		os.Remove(filepath.Join(r.cfg.StateDir, SocketName))
	}
}
