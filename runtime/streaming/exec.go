package streaming

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/logbook-cri/logbook/runtime/runc"
)

// Exec runs cmd in a running container with the caller's streams, for the
// streaming server, and returns the process's exit code (128+n for signal
// n). With st.TTY the process gets a terminal (runc.ExecTTY) sized by
// st.Resize; otherwise its stdio are pipes. The process is killed if ctx
// ends or the service closes.
func (s *Service) Exec(ctx context.Context, id string, cmd []string, st Streams) (int, error) {
	if len(cmd) == 0 {
		return -1, s.emptyCommand()
	}
	c, err := s.running(id)
	if err != nil {
		return -1, err
	}
	p, err := s.process(c, cmd, st.TTY)
	if err != nil {
		return -1, err
	}
	ctx, end, err := s.session(ctx)
	if err != nil {
		return -1, err
	}
	defer end()

	var code int
	if st.TTY {
		code, err = s.cfg.Runc.ExecTTY(ctx, c.ID, p, runc.ExecTTYOptions{Stdin: st.Stdin, Stdout: st.Stdout, Resize: st.Resize})
	} else {
		o := runc.ExecOptions{Stdout: st.Stdout, Stderr: st.Stderr}
		if st.Stdin != nil {
			in, closeIn, perr := s.pipeInput(st.Stdin)
			if perr != nil {
				return -1, perr
			}
			defer closeIn()
			o.Stdin = in
		}
		code, err = s.cfg.Runc.Exec(ctx, c.ID, p, o)
	}
	if err != nil {
		return code, runcError(c.ID, err)
	}
	return code, nil
}

// pipeInput gives the process a pipe fed from r by a goroutine the service
// owns. Handing runc a file, rather than a reader os/exec would copy from,
// keeps Exec from waiting on a read of the caller's stream once the
// process has ended (a client that never closes its stdin). When r ends
// the pipe is closed: the process reads end-of-file. done closes both
// ends; the copy then ends at its next write, or when r returns from a
// read blocked in it (the streaming server closes its connection once
// Exec has returned).
func (s *Service) pipeInput(r io.Reader) (*os.File, func(), error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	closeW := func() { once.Do(func() { pw.Close() }) }
	if err := s.goOwned(func() {
		io.Copy(pw, r)
		closeW()
	}); err != nil {
		pr.Close()
		closeW()
		return nil, nil, err
	}
	return pr, func() { pr.Close(); closeW() }, nil
}
