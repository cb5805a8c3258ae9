package shim

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// requestTimeout bounds how long a new connection may take to send its
// request frame.
const requestTimeout = 10 * time.Second

// server answers the shim socket: one goroutine accepts, one goroutine per
// connection reads it, and each attached client has a writer goroutine (see
// hub). close stops accepting and waits for all of them; connections are
// ended by the hub (attach) or after their single answer (status, reopen).
type server struct {
	ln     *net.UnixListener
	hub    *hub
	stdin  *stdinPort           // nil: the container has no stdin
	resize func(TermSize) error // nil: the container has no terminal
	reopen func() error         // reopens the CRI log
	status func() Status        // a snapshot of the shim's state
	log    Logger

	wg sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

func (s *server) start() {
	s.conns = map[net.Conn]struct{}{}
	s.wg.Add(1)
	go s.acceptLoop()
}

func (s *server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("accept", "err", err)
			}
			return
		}
		s.mu.Lock()
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

// close stops the listener, cuts the connections still open and waits for
// every goroutine of the server.
func (s *server) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *server) handle(conn *net.UnixConn) {
	fr := NewFrameReader(conn)
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	k, payload, err := fr.Next()
	if err != nil {
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	switch k {
	case KindStatus:
		st, _ := s.status().MarshalText()
		s.answer(conn, KindOK, st)
	case KindReopenLog:
		if err := s.reopen(); err != nil {
			s.answer(conn, KindError, []byte(err.Error()))
		} else {
			s.answer(conn, KindOK, nil)
		}
	case KindAttach:
		var req AttachRequest
		if err := req.UnmarshalText(payload); err != nil {
			s.answer(conn, KindError, []byte(err.Error()))
			return
		}
		s.attach(conn, fr, req)
	default:
		s.answer(conn, KindError, []byte(ErrProtocol.Error()+": unexpected "+k.String()+" request"))
	}
}

func (s *server) answer(conn net.Conn, k Kind, payload []byte) {
	conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	conn.Write(AppendFrame(nil, k, payload))
	conn.Close()
}

// attach streams output to the client (in its writer goroutine) and, here,
// reads what the client sends until it goes away.
func (s *server) attach(conn net.Conn, fr *FrameReader, req AttachRequest) {
	if s.stdin == nil {
		req.Stdin = false
	}
	// Claim stdin before the client is added, which queues its OK: a
	// client told OK before another is the first, for stdin_once.
	closesOnEnd := req.Stdin && s.stdin.claim()
	c := s.hub.add(conn, req)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	defer c.shutdown()

	stdinOpen := req.Stdin
	endStdin := func() {
		if stdinOpen && closesOnEnd {
			s.stdin.shut()
		}
		stdinOpen = false
	}
	defer endStdin()
	for {
		k, payload, err := fr.Next()
		if err != nil {
			if err != io.EOF && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("attach read", "err", err)
			}
			return
		}
		switch k {
		case KindStdin:
			if stdinOpen {
				if err := s.stdin.write(payload); err != nil && !errors.Is(err, errStdinClosed) {
					s.log.Debug("stdin write", "err", err)
				}
			}
		case KindStdinClose:
			endStdin()
		case KindResize:
			var ts TermSize
			if err := ts.UnmarshalText(payload); err != nil {
				s.log.Warn("resize", "err", err)
				return
			}
			if s.resize == nil {
				continue
			}
			if err := s.resize(ts); err != nil {
				s.log.Debug("resize", "err", err)
			}
		default:
			s.log.Warn("attach: unexpected frame", "kind", k.String())
			return
		}
	}
}
