package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/runc"
)

// MaxExecOutput caps each stream of ExecSync's output: beyond it, output is
// read and dropped (the process is never blocked) and the result says so.
const MaxExecOutput = 16 << 20

// ExecResult is what ExecSync returns.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int32
	// StdoutDropped and StderrDropped count the bytes past MaxExecOutput.
	StdoutDropped, StderrDropped int64
}

// ExecSync runs cmd in a running container, as its first process runs
// (same user, environment, working directory, capabilities and
// confinement), and returns its output and exit code. A positive timeout
// bounds the run: when it passes the process is killed and the error
// matches context.DeadlineExceeded. The container's lock is not held: an
// exec may last long, and stopping the container ends it.
func (s *Service) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (ExecResult, error) {
	c, ok := s.lookup(id)
	if !ok {
		return ExecResult{}, notFound("container", id)
	}
	if c.State != projector.ContainerRunning {
		return ExecResult{}, fmt.Errorf("%w: %w: container %s is %s, not running", runtime.ErrFailedPrecondition, ErrWrongState, c.ID, c.State)
	}
	if len(cmd) == 0 {
		return ExecResult{}, fmt.Errorf("%w: no command", runtime.ErrInvalidArgument)
	}
	p, err := s.execProcess(c.ID, cmd)
	if err != nil {
		return ExecResult{}, err
	}
	runCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	stdout, stderr := &cappedBuffer{max: MaxExecOutput}, &cappedBuffer{max: MaxExecOutput}
	code, err := s.cfg.Runc.Exec(runCtx, c.ID, p, runc.ExecOptions{Stdout: stdout, Stderr: stderr})
	res := ExecResult{Stdout: stdout.buf, Stderr: stderr.buf, ExitCode: int32(code),
		StdoutDropped: stdout.dropped, StderrDropped: stderr.dropped}
	if res.StdoutDropped > 0 || res.StderrDropped > 0 {
		s.log.Warn("exec output over the cap was dropped", "container", c.ID, "cap", MaxExecOutput,
			"stdout_dropped", res.StdoutDropped, "stderr_dropped", res.StderrDropped)
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return res, fmt.Errorf("exec in container %s: timeout %v exceeded, the process was killed: %w", c.ID, timeout, context.DeadlineExceeded)
		}
		return res, fmt.Errorf("exec in container %s: %w", c.ID, err)
	}
	return res, nil
}

// execProcess is the container's own process description with cmd as its
// arguments and no terminal.
func (s *Service) execProcess(id string, cmd []string) (specs.Process, error) {
	b, err := os.ReadFile(filepath.Join(s.cfg.Layout.Bundle(id), "config.json"))
	if err != nil {
		return specs.Process{}, fmt.Errorf("exec in container %s: %w", id, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil || spec.Process == nil {
		return specs.Process{}, fmt.Errorf("exec in container %s: its spec is unreadable: %v", id, err)
	}
	p := *spec.Process
	p.Args, p.Terminal, p.ConsoleSize = cmd, false, nil
	return p, nil
}

// cappedBuffer keeps the first max bytes written to it and counts the
// rest; it never refuses a write, so the writer is never blocked.
type cappedBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.max - len(b.buf)
	if room >= len(p) {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	if room > 0 {
		b.buf = append(b.buf, p[:room]...)
	}
	b.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}
