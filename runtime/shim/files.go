package shim

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Names of the files in a shim's state directory (see the package
// documentation for who writes each and when).
const (
	PidFileName       = "shim.pid"
	ExitFileName      = "exit"
	SocketName        = "shim.sock"
	ShimLogName       = "shim.log"
	InitPidFileName   = "init.pid"
	RuncLogName       = "runc.log"
	ConsoleSocketName = "console.sock"
)

// Exit is the durable record of a container's end.
type Exit struct {
	Pid    int // the container's init process
	Status int // exit code, or 128+signal when a signal ended it
	Signal int // the signal that ended it, 0 if it exited by itself
	At     time.Time
}

// ExitFromWaitStatus computes an Exit from what wait4 returned.
func ExitFromWaitStatus(pid int, ws unix.WaitStatus, at time.Time) Exit {
	e := Exit{Pid: pid, At: at}
	switch {
	case ws.Signaled():
		e.Signal = int(ws.Signal())
		e.Status = 128 + e.Signal
	default:
		e.Status = ws.ExitStatus()
	}
	return e
}

// MarshalText encodes the exit as a record; the time is in Unix nanoseconds.
func (e Exit) MarshalText() ([]byte, error) {
	var r record
	r.addInt("pid", int64(e.Pid))
	r.addInt("status", int64(e.Status))
	r.addInt("signal", int64(e.Signal))
	r.addInt("exited_at", e.At.UnixNano())
	return r, nil
}

// UnmarshalText decodes an exit record.
func (e *Exit) UnmarshalText(b []byte) error {
	f, err := parseRecord(b)
	if err != nil {
		return err
	}
	var pid, status, signal, at int64
	for _, p := range []struct {
		key string
		dst *int64
	}{{"pid", &pid}, {"status", &status}, {"signal", &signal}, {"exited_at", &at}} {
		if *p.dst, err = f.int(p.key); err != nil {
			return err
		}
	}
	if status < 0 || status > 255 || signal < 0 || signal > 64 {
		return fmt.Errorf("%w: exit status %d signal %d out of range", ErrMalformed, status, signal)
	}
	*e = Exit{Pid: int(pid), Status: int(status), Signal: int(signal), At: time.Unix(0, at)}
	return nil
}

// WriteExitFile records e in dir durably: a reader either finds no exit file
// or a complete one, even across a power cut.
func WriteExitFile(dir string, e Exit) error {
	b, _ := e.MarshalText()
	return writeFileAtomic(dir, ExitFileName, b, true)
}

// ReadExitFile returns the exit recorded in dir, or an error wrapping
// ErrNoExit (and fs.ErrNotExist) when there is none.
func ReadExitFile(dir string) (Exit, error) {
	b, err := os.ReadFile(filepath.Join(dir, ExitFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return Exit{}, fmt.Errorf("%w in %s: %w", ErrNoExit, dir, err)
	}
	if err != nil {
		return Exit{}, err
	}
	var e Exit
	if err := e.UnmarshalText(b); err != nil {
		return Exit{}, fmt.Errorf("exit file in %s: %w", dir, err)
	}
	return e, nil
}

// Identity names one process unambiguously: a pid is reused, a pid with its
// start time (in clock ticks after boot) within one boot is not.
type Identity struct {
	Pid       int
	StartTime uint64
	BootID    string
}

// MarshalText encodes the identity as a record.
func (id Identity) MarshalText() ([]byte, error) {
	var r record
	r.addInt("pid", int64(id.Pid))
	r.addUint("start_time", id.StartTime)
	r.add("boot_id", id.BootID)
	return r, nil
}

// UnmarshalText decodes an identity record.
func (id *Identity) UnmarshalText(b []byte) error {
	f, err := parseRecord(b)
	if err != nil {
		return err
	}
	pid, err := f.int("pid")
	if err != nil {
		return err
	}
	st, err := f.optUint("start_time")
	if err != nil {
		return err
	}
	if pid <= 0 || st == 0 || f.str("boot_id") == "" {
		return fmt.Errorf("%w: incomplete identity %q", ErrMalformed, b)
	}
	*id = Identity{Pid: int(pid), StartTime: st, BootID: f.str("boot_id")}
	return nil
}

// ProcIdentity reads the identity of a live (or zombie) process from
// procRoot (normally "/proc"). A process that does not exist is an error
// wrapping fs.ErrNotExist.
func ProcIdentity(procRoot string, pid int) (Identity, error) {
	stat, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Identity{}, err
	}
	st, err := parseStartTime(stat)
	if err != nil {
		return Identity{}, err
	}
	boot, err := os.ReadFile(filepath.Join(procRoot, "sys/kernel/random/boot_id"))
	if err != nil {
		return Identity{}, err
	}
	return Identity{Pid: pid, StartTime: st, BootID: strings.TrimSpace(string(boot))}, nil
}

// parseStartTime extracts field 22 (starttime) of a /proc/<pid>/stat line.
// The command name (field 2) is in parentheses and may itself contain spaces
// and parentheses, so fields are counted after its last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("%w: stat line without command name", ErrMalformed)
	}
	rest := strings.Fields(string(stat[end+1:]))
	// rest[0] is field 3 (state); starttime is field 22.
	const idx = 22 - 3
	if len(rest) <= idx {
		return 0, fmt.Errorf("%w: stat line has %d fields after the command", ErrMalformed, len(rest))
	}
	v, err := strconv.ParseUint(rest[idx], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: starttime: %v", ErrMalformed, err)
	}
	return v, nil
}

// WritePidFile records the shim's identity in dir, atomically but without
// fsync: after a power cut there is no shim left to identify.
func WritePidFile(dir string, id Identity) error {
	b, _ := id.MarshalText()
	return writeFileAtomic(dir, PidFileName, b, false)
}

// ReadPidFile returns the identity recorded in dir.
func ReadPidFile(dir string) (Identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, PidFileName))
	if err != nil {
		return Identity{}, err
	}
	var id Identity
	if err := id.UnmarshalText(b); err != nil {
		return Identity{}, fmt.Errorf("pid file in %s: %w", dir, err)
	}
	return id, nil
}

// VerifyProcess checks that the process id.Pid is still the one id recorded.
// It returns an error wrapping ErrNotShim when the pid is gone or reused.
func VerifyProcess(procRoot string, id Identity) error {
	cur, err := ProcIdentity(procRoot, id.Pid)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: pid %d is gone", ErrNotShim, id.Pid)
	}
	if err != nil {
		return err
	}
	if cur != id {
		return fmt.Errorf("%w: pid %d started at %d in boot %s, recorded %d in boot %s",
			ErrNotShim, id.Pid, cur.StartTime, cur.BootID, id.StartTime, id.BootID)
	}
	return nil
}

// ReadInitPid reads the pid file runc wrote for the container's init.
func ReadInitPid(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, InitPidFileName))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%w: init pid file %q", ErrMalformed, b)
	}
	return pid, nil
}

// writeFileAtomic replaces dir/name with data through a temporary file and
// a rename, so that readers see the old file or the new one; durable adds
// an fsync of the file before the rename and of the directory after it.
func writeFileAtomic(dir, name string, data []byte, durable bool) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s in %s: %w", name, dir, err)
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
