package streaming

import (
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// dialInNetNS connects to port on the loopback of the network namespace
// bound at nsPath. A socket belongs to the namespace of the thread that
// creates it, for its whole life, so a goroutine locked to its OS thread
// enters the namespace (setns), dials (net.Dialer creates the socket on
// the calling thread when given a literal address), and goes back; the
// connection it returns then works from any thread. If the thread cannot
// go back, it stays locked: Go ends a locked thread with its goroutine, so
// no other goroutine ever runs in the pod's namespace.
func dialInNetNS(ctx context.Context, nsPath string, port int) (net.Conn, error) {
	target, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	defer target.Close()

	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		c, back, err := dialFromNetNS(ctx, target, port)
		if back {
			goruntime.UnlockOSThread()
		}
		done <- result{c, err}
	}()
	r := <-done
	return r.conn, r.err
}

// dialFromNetNS runs on a locked thread: enter target, dial, return to the
// thread's own namespace. back says whether the thread is in its own
// namespace again.
func dialFromNetNS(ctx context.Context, target *os.File, port int) (c net.Conn, back bool, err error) {
	own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, true, fmt.Errorf("open this thread's network namespace: %w", err)
	}
	defer own.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("enter network namespace: %w", err)
	}
	c, err = dialLoopback(ctx, port)
	if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
		return c, false, err
	}
	return c, true, err
}
