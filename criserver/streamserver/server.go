package streamserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/logbook-cri/logbook/runtime/streaming"
)

// Runtime runs the sessions (*streaming.Service implements it). The
// checks run when a URL is requested, so a client learns at once that a
// container is not running; the sessions check again when they start.
type Runtime interface {
	CheckContainer(ctx context.Context, id string) error
	CheckSandbox(ctx context.Context, id string) error
	Exec(ctx context.Context, id string, cmd []string, st streaming.Streams) (int, error)
	Attach(ctx context.Context, id string, st streaming.Streams) error
	PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error
}

var _ Runtime = (*streaming.Service)(nil)

// Defaults, as kubelets and containerd have them.
const (
	DefaultTokenTTL              = time.Minute
	DefaultMaxPending            = 1000
	DefaultIdleTimeout           = 4 * time.Hour
	DefaultStreamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
)

// Config configures a Server.
type Config struct {
	// Addr is the host:port to listen on ("stream-address"); port 0
	// picks a free one.
	Addr    string
	Runtime Runtime
	Logger  *slog.Logger
	// TokenTTL is how long a URL may wait for its one use; zero means
	// DefaultTokenTTL.
	TokenTTL time.Duration
	// MaxPending bounds the URLs handed out and not yet used or expired;
	// zero means DefaultMaxPending.
	MaxPending int
	// IdleTimeout ends a session's connection after that long without
	// traffic; zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// StreamCreationTimeout bounds how long a SPDY client may take to
	// open a session's streams; zero means DefaultStreamCreationTimeout.
	StreamCreationTimeout time.Duration
	// Now is the clock of token expiry; nil means time.Now.
	Now func() time.Time
}

// Server is the streaming server: it hands out single-use URLs for exec,
// attach and port-forward requests and serves them with the protocols of
// k8s.io/cri-streaming (SPDY, and WebSocket where the library has it). It
// owns its serving goroutine and every session's; Close ends them all and
// waits.
type Server struct {
	cfg    Config
	log    *slog.Logger
	tokens *tokens
	base   *url.URL
	addr   net.Addr

	ctx    context.Context // every request's context; ends at Close
	cancel context.CancelFunc
	http   *http.Server
	ln     *trackingListener
	served chan struct{} // closed when Serve has returned

	mu       sync.Mutex
	closed   bool           // guarded by mu
	sessions sync.WaitGroup // Add under mu while !closed
}

// Listen starts a server on cfg.Addr: it listens before returning (a busy
// address is an error here, not a log line later) and serves until Close.
func Listen(cfg Config) (*Server, error) {
	if cfg.Runtime == nil {
		return nil, errors.New("streamserver: Runtime is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.StreamCreationTimeout <= 0 {
		cfg.StreamCreationTimeout = DefaultStreamCreationTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	ifaces, _ := net.InterfaceAddrs()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: cfg.Logger,
		tokens: newTokens(cfg.TokenTTL, cfg.MaxPending, cfg.Now),
		base:   baseURL(ln.Addr().(*net.TCPAddr), ifaces),
		addr:   ln.Addr(),
		ctx:    ctx, cancel: cancel,
		ln:     &trackingListener{Listener: ln, conns: map[net.Conn]struct{}{}},
		served: make(chan struct{}),
	}
	mux := http.NewServeMux()
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /exec/{token}", s.serveExec)
		mux.HandleFunc(m+" /attach/{token}", s.serveAttach)
		mux.HandleFunc(m+" /portforward/{token}", s.servePortForward)
	}
	s.http = &http.Server{
		Handler:           s.track(mux),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
	}
	go func() {
		defer close(s.served)
		s.http.Serve(s.ln)
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// BaseURL is the absolute URL the sessions' URLs start with.
func (s *Server) BaseURL() string { return s.base.String() }

// Close stops accepting, ends every session (their requests' contexts end,
// so processes are killed; their connections, hijacked ones included, are
// closed), and waits for the serving goroutine and every session handler.
func (s *Server) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		<-s.served
		s.sessions.Wait()
		return nil
	}
	s.cancel()
	err := s.http.Close() // the listener and the connections net/http still manages
	s.ln.closeAll()       // and the ones handed to SPDY and WebSocket
	<-s.served
	s.sessions.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// enter counts a session in; false once the server is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions.Add(1)
	return true
}

// track counts every request as a session, so Close waits for it.
func (s *Server) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			http.Error(w, "streaming server closed", http.StatusServiceUnavailable)
			return
		}
		defer s.sessions.Done()
		h.ServeHTTP(w, r)
	})
}

func (s *Server) issue(kind string, req any) (string, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return "", ErrClosed
	}
	tok, err := s.tokens.insert(req)
	if err != nil {
		return "", err
	}
	return sessionURL(s.base, kind, tok), nil
}

// Exec checks that the container runs and returns the URL of an exec
// session. The request's shape is criserver's to check.
func (s *Server) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if err := s.cfg.Runtime.CheckContainer(ctx, req.GetContainerId()); err != nil {
		return nil, err
	}
	u, err := s.issue("exec", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ExecResponse{Url: u}, nil
}

// Attach checks that the container runs and returns the URL of an attach
// session.
func (s *Server) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if err := s.cfg.Runtime.CheckContainer(ctx, req.GetContainerId()); err != nil {
		return nil, err
	}
	u, err := s.issue("attach", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.AttachResponse{Url: u}, nil
}

// PortForward checks that the sandbox is ready and returns the URL of a
// port-forward session.
func (s *Server) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if err := s.cfg.Runtime.CheckSandbox(ctx, req.GetPodSandboxId()); err != nil {
		return nil, err
	}
	u, err := s.issue("portforward", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PortForwardResponse{Url: u}, nil
}

// consume takes the request of the URL's token, answering 404 for a token
// that is unknown, used, expired, or of another kind.
func consume[T any](s *Server, w http.ResponseWriter, r *http.Request) (T, bool) {
	var zero T
	v, ok := s.tokens.consume(r.PathValue("token"))
	req, isT := v.(T)
	if !ok || !isT {
		http.NotFound(w, r)
		return zero, false
	}
	return req, true
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	req, ok := consume[*runtimeapi.ExecRequest](s, w, r)
	if !ok {
		return
	}
	s.log.Debug("exec session", "container", req.GetContainerId(), "cmd", req.GetCmd(), "tty", req.GetTty(), "remote", r.RemoteAddr)
	remotecommand.ServeExec(w, r, adapter{s.cfg.Runtime}, "", "", req.GetContainerId(), req.GetCmd(),
		&remotecommand.Options{Stdin: req.GetStdin(), Stdout: req.GetStdout(), Stderr: req.GetStderr(), TTY: req.GetTty()},
		s.cfg.IdleTimeout, s.cfg.StreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	req, ok := consume[*runtimeapi.AttachRequest](s, w, r)
	if !ok {
		return
	}
	s.log.Debug("attach session", "container", req.GetContainerId(), "tty", req.GetTty(), "remote", r.RemoteAddr)
	remotecommand.ServeAttach(w, r, adapter{s.cfg.Runtime}, "", "", req.GetContainerId(),
		&remotecommand.Options{Stdin: req.GetStdin(), Stdout: req.GetStdout(), Stderr: req.GetStderr(), TTY: req.GetTty()},
		s.cfg.IdleTimeout, s.cfg.StreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	req, ok := consume[*runtimeapi.PortForwardRequest](s, w, r)
	if !ok {
		return
	}
	opts, err := portforward.BuildV4Options(req.GetPort())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.log.Debug("port-forward session", "sandbox", req.GetPodSandboxId(), "ports", req.GetPort(), "remote", r.RemoteAddr)
	// The library calls the forwarder without a context; this one carries
	// the request's, which ends when the session's connection goes or the
	// server closes.
	portforward.ServePortForward(w, r, forwarder{s, r.Context()}, req.GetPodSandboxId(), "", opts,
		s.cfg.IdleTimeout, s.cfg.StreamCreationTimeout, portforward.SupportedProtocols)
}

// trackingListener remembers the connections it accepted until they are
// closed, so that Close can end the ones net/http no longer manages (a
// hijacked connection is the SPDY or WebSocket session's).
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{} // guarded by mu
	shut  bool                  // guarded by mu
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	l.shut = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// slogWriter carries net/http's own log lines (bad requests, TLS
// handshakes) to the server's logger.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("streaming server", "http", string(p))
	return len(p), nil
}
