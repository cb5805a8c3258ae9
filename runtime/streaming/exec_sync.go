package streaming

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/runc"
)

// ExecSyncResult is what an ExecSync returns.
type ExecSyncResult struct {
	// Stdout and Stderr are what the budget kept of each stream: a prefix.
	Stdout, Stderr []byte
	ExitCode       int32
	// Usage says what each stream (stdout, stderr) wrote and kept; Cut is
	// set when either dropped bytes.
	Usage [2]StreamCut
	Cut   bool
}

// errTimeout is the cause of the context ExecSync's own deadline ends.
var errTimeout = errors.New("exec timeout")

// ExecSync runs cmd in a running container, as the container's process
// would run (ExecProcess), and returns its output and exit code. A timeout
// above zero is enforced here: at the deadline the process and everything
// it started are killed and the error wraps ErrTimeout and
// context.DeadlineExceeded. The output is held to the budget (budget.go):
// bytes past it are read and dropped, never left to block the process,
// and a cut is logged and counted.
func (s *Service) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (ExecSyncResult, error) {
	if len(cmd) == 0 {
		return ExecSyncResult{}, s.emptyCommand()
	}
	c, err := s.running(id)
	if err != nil {
		return ExecSyncResult{}, err
	}
	p, err := s.process(c, cmd, false)
	if err != nil {
		return ExecSyncResult{}, err
	}
	ctx, end, err := s.session(ctx)
	if err != nil {
		return ExecSyncResult{}, err
	}
	defer end()
	runCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, timeout, errTimeout)
		defer cancel()
	}

	b := newBudget(s.cfg.OutputBudget)
	code, runErr := s.cfg.Runc.Exec(runCtx, c.ID, p, runc.ExecOptions{Stdout: b.writer(0), Stderr: b.writer(1)})
	out, usage := b.result()
	res := ExecSyncResult{Stdout: out[0], Stderr: out[1], ExitCode: int32(code), Usage: usage}
	for i, name := range []string{StreamStdout, StreamStderr} {
		if usage[i].Dropped() > 0 {
			res.Cut = true
			if s.cfg.Metrics != nil {
				s.cfg.Metrics.ExecOutputCut(name)
			}
		}
	}
	if res.Cut {
		s.log.Warn("exec output cut to fit the response", "container", c.ID, "cmd", cmd[0], "budget", s.cfg.OutputBudget,
			"stdout_written", usage[0].Written, "stdout_kept", usage[0].Kept,
			"stderr_written", usage[1].Written, "stderr_kept", usage[1].Kept)
	}

	if runErr != nil {
		if context.Cause(runCtx) == errTimeout {
			return res, fmt.Errorf("%w: %w: %q in container %s ran past its timeout of %s and was killed",
				ErrTimeout, context.DeadlineExceeded, cmd, c.ID, timeout)
		}
		return res, runcError(c.ID, runErr)
	}
	return res, nil
}

func (s *Service) emptyCommand() error {
	return fmt.Errorf("%w: %w", runtime.ErrInvalidArgument, ErrEmptyCommand)
}
