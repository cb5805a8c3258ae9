package streaming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// readySandbox finds a ready pod sandbox by ID or unique prefix.
func (s *Service) readySandbox(id string) (*projector.Sandbox, error) {
	sb, ok := s.cfg.Projection.Sandbox(id)
	if !ok {
		if l := s.cfg.Projection.ListSandboxes(&runtimeapi.PodSandboxFilter{Id: id}); len(l) == 1 {
			sb, ok = l[0], true
		}
	}
	if !ok {
		return nil, fmt.Errorf("pod sandbox %q: %w", id, runtime.ErrNotFound)
	}
	if sb.State != projector.SandboxReady {
		return nil, fmt.Errorf("%w: %w: pod sandbox %s is %s", runtime.ErrFailedPrecondition, ErrNotReady, sb.ID, sb.State)
	}
	return sb, nil
}

// hostNetwork tells whether a pod uses the node's network namespace.
func hostNetwork(sb *projector.Sandbox) bool {
	return sb.Config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
}

// PortForward connects stream to TCP port on the loopback of a ready pod's
// network namespace (the host's, for a pod on the host network) and copies
// both ways until the pod's side closes, the caller's stream fails, or ctx
// ends. The connection is made by a thread that enters the pod's namespace
// only to create and connect the socket (netns.go): no helper process, no
// socat. When the caller's stream reaches its end, the pod's side is
// half-closed, so a server sees end-of-file and can still answer.
func (s *Service) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	sb, err := s.readySandbox(sandboxID)
	if err != nil {
		return err
	}
	if port <= 0 || port > 65535 {
		return fmt.Errorf("%w: %w: %d", runtime.ErrInvalidArgument, ErrBadPort, port)
	}
	ctx, end, err := s.session(ctx)
	if err != nil {
		return err
	}
	defer end()

	var conn net.Conn
	switch {
	case sb.NetNSPath != "":
		conn, err = dialInNetNS(ctx, sb.NetNSPath, int(port))
	case hostNetwork(sb):
		conn, err = dialLoopback(ctx, int(port))
	default:
		return fmt.Errorf("%w: %w: %s", runtime.ErrFailedPrecondition, ErrNoNetNS, sb.ID)
	}
	if err != nil {
		return fmt.Errorf("port-forward to port %d of pod sandbox %s: %w", port, sb.ID, err)
	}
	defer conn.Close()
	// Closing the connection is what unblocks the copy below when the
	// session ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	// The caller's side to the pod. This goroutine can outlive the call:
	// a read of the caller's stream cannot be interrupted, and ends when
	// the client closes its side or its connection goes.
	if err := s.goOwned(func() {
		_, err := io.Copy(conn, stream)
		if err == nil {
			if hc, ok := conn.(interface{ CloseWrite() error }); ok {
				hc.CloseWrite()
				return
			}
		}
		conn.Close()
	}); err != nil {
		return err
	}
	_, err = io.Copy(stream, conn)
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// dialLoopback connects to port on the loopback of the calling thread's
// network namespace: 127.0.0.1, else ::1 when nothing listens on IPv4.
func dialLoopback(ctx context.Context, port int) (net.Conn, error) {
	var d net.Dialer
	p := strconv.Itoa(port)
	c, err := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", p))
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		return c, err
	}
	if c6, err6 := d.DialContext(ctx, "tcp6", net.JoinHostPort("::1", p)); err6 == nil {
		return c6, nil
	}
	return nil, err
}
