package streaming

import (
	"context"
	"errors"
	"fmt"

	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/runc"
)

// Attach connects the caller's streams to a running container's own stdio
// through its shim's socket: the output from now on (earlier output is in
// the log), the input (closing it closes the container's stdin when the
// container was created with stdin_once and this is its first attach), and
// the terminal's size. The shim, not the daemon, holds the container's
// stdio, so this works as well for a container started before the daemon
// restarted. It returns once the container has exited and its output is
// delivered, or when ctx ends or the service closes.
func (s *Service) Attach(ctx context.Context, id string, st Streams) error {
	c, err := s.running(id)
	if err != nil {
		return err
	}
	sh, err := runc.OpenShim(c.ID, s.cfg.Layout.ShimDir(c.ID), s.log)
	if errors.Is(err, runc.ErrShimGone) {
		return fmt.Errorf("%w: %w: container %s: %w", runtime.ErrFailedPrecondition, ErrNotRunning, c.ID, err)
	}
	if err != nil {
		return fmt.Errorf("attach %s: %w", c.ID, err)
	}
	defer sh.Close()
	ctx, end, err := s.session(ctx)
	if err != nil {
		return err
	}
	defer end()
	return sh.Attach(ctx, runc.AttachOptions{Stdin: st.Stdin, Stdout: st.Stdout, Stderr: st.Stderr, Resize: st.Resize})
}
