package runc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/logbook-cri/logbook/runtime/shim"
)

// Config configures a Runc.
type Config struct {
	// Binary is the runc executable; "" means "runc" looked up in PATH.
	Binary string
	// Root is runc's state root (runc --root), normally <state>/runc. It is
	// created if missing.
	Root string
	// ShimBinary is the logbook-shim executable Create launches.
	ShimBinary string
	// SystemdCgroup selects runc's systemd cgroup driver.
	SystemdCgroup bool
	// TempDir holds the short-lived files of Exec (pid file, runc log);
	// "" means os.TempDir().
	TempDir string
	// Logger receives the executor's diagnostics; nil discards them.
	Logger *slog.Logger
}

// Runc runs one runc binary against one state root. It holds no state of its
// own: every method asks runc, so it is safe for concurrent use and right
// after a restart.
type Runc struct {
	binary, root, shimBinary, tempDir string
	systemdCgroup                     bool
	log                               *slog.Logger
}

// New checks cfg, resolves the binaries and creates the state root.
func New(cfg Config) (*Runc, error) {
	bin := cfg.Binary
	if bin == "" {
		bin = "runc"
	}
	bin, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: runc binary: %w", ErrInvalid, err)
	}
	if !filepath.IsAbs(cfg.Root) {
		return nil, fmt.Errorf("%w: runc root %q is not absolute", ErrInvalid, cfg.Root)
	}
	shimBin := cfg.ShimBinary
	if shimBin != "" {
		if shimBin, err = exec.LookPath(shimBin); err != nil {
			return nil, fmt.Errorf("%w: shim binary: %w", ErrInvalid, err)
		}
		if shimBin, err = filepath.Abs(shimBin); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tmp := cfg.TempDir
	if tmp == "" {
		tmp = os.TempDir()
	}
	return &Runc{binary: bin, root: cfg.Root, shimBinary: shimBin, tempDir: tmp,
		systemdCgroup: cfg.SystemdCgroup, log: log}, nil
}

// Root is runc's state root.
func (r *Runc) Root() string { return r.root }

// globalArgs precede every runc subcommand. With --log-format json and no
// --log, runc reports errors on stderr as JSON lines, which runcFailure
// parses.
func (r *Runc) globalArgs(logPath string) []string {
	a := []string{"--root", r.root, "--log-format", "json"}
	if logPath != "" {
		a = append(a, "--log", logPath)
	}
	if r.systemdCgroup {
		a = append(a, "--systemd-cgroup")
	}
	return a
}

// run runs one short runc command (runc <global flags> command args...) and
// returns its stdout; id only names the container in errors.
func (r *Runc) run(ctx context.Context, stdin io.Reader, command, id string, args ...string) ([]byte, error) {
	full := append(r.globalArgs(""), command)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, r.binary, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r.log.Debug("runc", "command", command, "id", id, "duration", time.Since(start), "err", err)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("runc %s %s: %w", command, id, ctx.Err())
		}
		return nil, runcFailure(command, id, stderr.Bytes(), err)
	}
	return stdout.Bytes(), nil
}

// runcFailure builds the error of a failed runc from what it logged (JSON
// lines) or, failing that, from its plain stderr and exit.
func runcFailure(command, id string, log []byte, runErr error) error {
	msg := shim.LastRuncError(log)
	if msg == "" {
		msg = string(bytes.TrimSpace(log))
	}
	if msg == "" {
		msg = runErr.Error()
	}
	return &RuncError{Command: command, ID: id, Message: msg}
}

// Start starts a created container (runs its process).
func (r *Runc) Start(ctx context.Context, id string) error {
	_, err := r.run(ctx, nil, "start", id, id)
	return err
}

// Kill sends sig to the container's init, or with all to every process of
// the container.
func (r *Runc) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{id, strconv.Itoa(int(sig))}
	if all {
		args = append([]string{"--all"}, args...)
	}
	_, err := r.run(ctx, nil, "kill", id, args...)
	return err
}

// Delete removes the container from runc (its state, its cgroup). A running
// container needs force, which kills it first; force on an unknown id is
// not an error (runc's own behaviour), without force it is ErrNotFound.
func (r *Runc) Delete(ctx context.Context, id string, force bool) error {
	args := []string{id}
	if force {
		args = []string{"--force", id}
	}
	_, err := r.run(ctx, nil, "delete", id, args...)
	return err
}

// State is runc's view of one container (runc state / runc list).
type State struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"` // created, running, paused, stopped
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// State asks runc about one container; ErrNotFound if it does not know it.
func (r *Runc) State(ctx context.Context, id string) (State, error) {
	out, err := r.run(ctx, nil, "state", id, id)
	if err != nil {
		return State{}, err
	}
	var st State
	if err := json.Unmarshal(out, &st); err != nil {
		return State{}, fmt.Errorf("runc state %s: %w", id, err)
	}
	return st, nil
}

// List returns every container under the root, for recovery's leak scan.
func (r *Runc) List(ctx context.Context) ([]State, error) {
	out, err := r.run(ctx, nil, "list", "", "--format", "json")
	if err != nil {
		return nil, err
	}
	var sts []State
	if err := json.Unmarshal(out, &sts); err != nil {
		return nil, fmt.Errorf("runc list: %w", err)
	}
	return sts, nil
}

// Update applies new resource limits to a running container.
func (r *Runc) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	if res == nil {
		return fmt.Errorf("%w: no resources", ErrInvalid)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = r.run(ctx, bytes.NewReader(b), "update", id, "--resources", "-", id)
	return err
}
