package streamserver

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/logbook-cri/logbook/runtime/shim"
	"github.com/logbook-cri/logbook/runtime/streaming"
)

// adapter puts the library's session callbacks onto the Runtime.
type adapter struct{ rt Runtime }

var (
	_ remotecommand.Executor = adapter{}
	_ remotecommand.Attacher = adapter{}
)

// ExecInContainer runs the exec. A non-zero exit is returned as the
// library's exit error, which it reports to the client as the exit code
// (a client such as crictl then exits with it).
func (a adapter) ExecInContainer(ctx context.Context, _, _ string, id string, cmd []string, in io.Reader,
	out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	st, stop := streams(in, out, errOut, tty, resize)
	defer stop()
	code, err := a.rt.Exec(ctx, id, cmd, st)
	if err != nil {
		return err
	}
	return exitError(code)
}

// AttachContainer attaches to the container's stdio.
func (a adapter) AttachContainer(ctx context.Context, _, _ string, id string, in io.Reader,
	out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	st, stop := streams(in, out, errOut, tty, resize)
	defer stop()
	return a.rt.Attach(ctx, id, st)
}

// exitError is what the library reads as a process's exit code: nil for
// 0.
func exitError(code int) error {
	if code == 0 {
		return nil
	}
	return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
}

// streams converts the library's streams; stop ends the resize relay and
// waits for it.
func streams(in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) (streaming.Streams, func()) {
	st := streaming.Streams{TTY: tty}
	// The library hands nil interfaces for streams the client did not
	// ask for; kept nil, they are not connected.
	if in != nil {
		st.Stdin = in
	}
	if out != nil {
		st.Stdout = out
	}
	if errOut != nil {
		st.Stderr = errOut
	}
	sizes, stop := relayResize(resize)
	st.Resize = sizes
	return st, stop
}

// relayResize forwards terminal sizes from the library's channel to the
// runtime's until the former closes or stop is called; stop waits for the
// relay to end. The relay closes its output when it ends.
func relayResize(in <-chan remotecommand.TerminalSize) (<-chan shim.TermSize, func()) {
	if in == nil {
		return nil, func() {}
	}
	out := make(chan shim.TermSize)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		for {
			select {
			case sz, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- shim.TermSize{Width: sz.Width, Height: sz.Height}:
				case <-done:
					return
				}
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return out, func() { once.Do(func() { close(done); wg.Wait() }) }
}

// forwarder runs one connection of a port-forward session, with the
// session's context (the library gives none) and counted as a session so
// the server's Close waits for it.
type forwarder struct {
	s   *Server
	ctx context.Context
}

var _ portforward.PortForwarder = forwarder{}

func (f forwarder) PortForward(_ context.Context, sandboxID, _ string, port int32, stream io.ReadWriteCloser) error {
	if !f.s.enter() {
		return ErrClosed
	}
	defer f.s.sessions.Done()
	return f.s.cfg.Runtime.PortForward(f.ctx, sandboxID, port, stream)
}
