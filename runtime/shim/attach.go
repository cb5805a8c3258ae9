package shim

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// hub fans the container's output out to the attached clients. The output
// pumps call broadcast (one at a time: it holds mu), which puts the output
// in each client's spool; every client has its own writer goroutine that
// empties its spool into its connection. A client that keeps up loses
// nothing; a client that stops reading is cut off from output (and later
// told how much it missed) after stallTimeout, and then holds up nobody.
type hub struct {
	limit   int
	stall   time.Duration
	dropped atomic.Uint64 // output bytes missed by stalled clients, all clients

	mu      sync.Mutex // guards clients, exit and the clients' missed counts
	clients map[*client]struct{}
	exit    []byte // the Exit frame once the container has exited; then no client stays
}

func newHub(limit int, stall time.Duration) *hub {
	return &hub{limit: limit, stall: stall, clients: map[*client]struct{}{}}
}

// client is one attached connection.
type client struct {
	h    *hub
	conn net.Conn
	req  AttachRequest
	out  *spool // encoded frames for the connection

	missed uint64 // output bytes dropped since the last Dropped frame; guarded by h.mu

	gone     chan struct{} // closed by shutdown
	stopOnce sync.Once
}

// add registers a connection and queues the OK frame that starts its stream.
// After the container's exit a new client gets the Exit frame at once.
func (h *hub) add(conn net.Conn, req AttachRequest) *client {
	c := &client{h: h, conn: conn, req: req, out: newSpool(h.limit, h.stall), gone: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.exit != nil {
		c.out.putFinal(func(b []byte) []byte { return append(AppendFrame(b, KindOK, nil), h.exit...) })
	} else {
		c.out.put(FrameHeaderSize, 0, func(b []byte) []byte { return AppendFrame(b, KindOK, nil) })
		h.clients[c] = struct{}{}
	}
	return c
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// broadcast queues output of stream k for every client that asked for it.
// data is not retained.
func (h *hub) broadcast(k Kind, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if (k == KindStdout && c.req.Stdout) || (k == KindStderr && c.req.Stderr) {
			c.send(k, data)
		}
	}
}

// send is called with h.mu held.
func (c *client) send(k Kind, data []byte) {
	missed := c.missed
	size := len(data) + FrameHeaderSize*(1+len(data)/MaxFramePayload)
	if missed > 0 {
		size += FrameHeaderSize + 20
	}
	if c.out.put(size, 1, func(b []byte) []byte {
		return AppendFrames(appendDropped(b, missed), k, data)
	}) {
		c.missed = 0
		return
	}
	c.missed += uint64(len(data))
	c.h.dropped.Add(uint64(len(data)))
}

// appendDropped appends a Dropped frame for missed bytes, if any.
func appendDropped(b []byte, missed uint64) []byte {
	if missed == 0 {
		return b
	}
	var num [20]byte
	return AppendFrame(b, KindDropped, strconv.AppendUint(num[:0], missed, 10))
}

// finish queues the Exit frame for every client and waits up to timeout for
// them to receive it; clients still connected then are cut off.
func (h *hub) finish(exit Exit, timeout time.Duration) {
	payload, _ := exit.MarshalText()
	frame := AppendFrame(nil, KindExit, payload)
	h.mu.Lock()
	h.exit = frame
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
		missed := c.missed
		c.out.putFinal(func(b []byte) []byte { return append(appendDropped(b, missed), frame...) })
	}
	h.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, c := range clients {
		select {
		case <-c.gone:
		case <-deadline.C:
			for _, c := range clients {
				c.shutdown()
			}
			return
		}
	}
}

// writeLoop empties the spool into the connection until the spool is closed
// and empty (the Exit frame was the last), a write fails, or the client is
// shut down.
func (c *client) writeLoop() {
	defer c.shutdown()
	for {
		batch, _, ok := c.out.take(c.gone)
		if !ok {
			return
		}
		if _, err := c.conn.Write(batch); err != nil {
			return
		}
		c.out.recycle(batch)
	}
}

// shutdown ends the client: its spool (waking a producer waiting on it), its
// connection (ending both of its goroutines), its place in the hub.
// Idempotent.
func (c *client) shutdown() {
	c.stopOnce.Do(func() {
		close(c.gone)
		c.out.close()
		c.conn.Close()
		c.h.remove(c)
	})
}

// errStdinClosed: the container's stdin is closed or never existed.
var errStdinClosed = errors.New("container stdin is closed")

// stdinPort is the container's stdin as the attached clients share it.
// Writes are serialised by writeMu (frame by frame, so two clients'
// writes never interleave inside a frame); mu guards the state, and is
// never held across a write, so closing the port cannot wait for a write
// blocked on a full pipe: Close of the pollable descriptor unblocks it.
type stdinPort struct {
	writeMu sync.Mutex
	mu      sync.Mutex // guards w, claimed
	w       io.Writer  // nil: closed or absent
	close   func()     // ends the container's stdin: closes the pipe, or sends EOF on a terminal
	once    bool
	claimed bool // a client has attached stdin; with once, only that first one counts
}

// claim registers a client attaching stdin and reports whether its end
// closes the container's stdin (stdin_once and it is the first).
func (s *stdinPort) claim() (closesOnEnd bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.claimed
	s.claimed = true
	return s.once && first
}

func (s *stdinPort) isOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w != nil
}

func (s *stdinPort) write(p []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	if w == nil {
		return errStdinClosed
	}
	_, err := w.Write(p)
	return err
}

// release forgets the writer without ending it: the container is gone and
// its owner closes the descriptor.
func (s *stdinPort) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = nil
}

// shut ends the container's stdin for good.
func (s *stdinPort) shut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return
	}
	s.w = nil
	if s.close != nil {
		s.close()
	}
}
