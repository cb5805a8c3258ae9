package criserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// MaxMessageSize bounds every request and response, as a kubelet bounds its
// own (16 MiB). A bigger request is refused by gRPC with ResourceExhausted
// before it is decoded.
const MaxMessageSize = 16 << 20

// RequestObserver receives one observation per finished call: the gRPC
// method ("runtime.v1.RuntimeService/Version"), the status code's name and
// the call's duration. metrics.CRI implements it.
type RequestObserver interface {
	ObserveRequest(method, code string, took time.Duration)
}

// ServerOptions are the options of the daemon's gRPC server: message size
// limits and the interceptors that log, measure and map errors for every
// service registered on it (the CRI services and any other, such as the
// journal's remote read service). obs may be nil.
//
// When shutdown ends, every open stream's context is cancelled and the
// stream ends with Unavailable: event streams and journal tails never end
// on their own, and a graceful stop must not wait for them. Unary calls
// keep their own context and finish; calls, when not nil, counts them, so
// that a stop can tell when only streams are left.
func ServerOptions(logger *slog.Logger, obs RequestObserver, shutdown context.Context, calls *UnaryCalls) []grpc.ServerOption {
	if shutdown == nil {
		shutdown = context.Background()
	}
	if calls == nil {
		calls = new(UnaryCalls)
	}
	i := &interceptor{logger: logger, obs: obs, shutdown: shutdown, calls: calls}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.ChainUnaryInterceptor(i.unary),
		grpc.ChainStreamInterceptor(i.stream),
	}
}

// interceptor is the cross-cutting part of every call: it turns the
// handler's error into a status (codes.go), recovers a panicking handler
// into Internal, logs the call and reports it to the observer. No handler
// repeats any of this.
type interceptor struct {
	logger   *slog.Logger
	obs      RequestObserver
	shutdown context.Context
	calls    *UnaryCalls
}

// UnaryCalls counts the unary calls in flight on a server. A graceful stop
// waits for every call, and a stream whose client has stopped reading
// never finishes (its last messages wait for flow control): once the
// unary calls are done, what is left can be cut at once.
type UnaryCalls struct {
	mu   sync.Mutex
	n    int
	idle []chan struct{}
}

func (u *UnaryCalls) begin() {
	u.mu.Lock()
	u.n++
	u.mu.Unlock()
}

func (u *UnaryCalls) end() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n--; u.n == 0 {
		for _, ch := range u.idle {
			close(ch)
		}
		u.idle = nil
	}
}

// Idle is closed once no unary call is in flight (at once if none is).
func (u *UnaryCalls) Idle() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	ch := make(chan struct{})
	if u.n == 0 {
		close(ch)
	} else {
		u.idle = append(u.idle, ch)
	}
	return ch
}

func (i *interceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	i.calls.begin()
	defer i.calls.end()
	start := time.Now()
	resp, err = i.call(info.FullMethod, func() (any, error) { return handler(ctx, req) })
	err = toStatus(err)
	i.finish(ctx, info.FullMethod, req, err, time.Since(start))
	return resp, err
}

func (i *interceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	defer context.AfterFunc(i.shutdown, cancel)()
	_, err := i.call(info.FullMethod, func() (any, error) { return nil, handler(srv, &serverStream{ss, ctx}) })
	if err != nil && i.shutdown.Err() != nil && ss.Context().Err() == nil {
		// The daemon ended the stream, not the client: tell the client to
		// come back (to the next daemon) rather than that it cancelled.
		err = status.Errorf(codes.Unavailable, "%s: logbookd is shutting down", trimMethod(info.FullMethod))
	}
	err = toStatus(err)
	i.finish(ss.Context(), info.FullMethod, nil, err, time.Since(start))
	return err
}

// call runs the handler, turning a panic into an Internal error: one bad
// request must not take down a daemon that every pod on the node depends on.
func (i *interceptor) call(method string, fn func() (any, error)) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			i.logger.Error("handler panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp, err = nil, status.Errorf(codes.Internal, "%s: internal error: %v", method, r)
		}
	}()
	return fn()
}

func (i *interceptor) finish(ctx context.Context, fullMethod string, req any, err error, took time.Duration) {
	method := trimMethod(fullMethod)
	code := status.Code(err)
	if i.obs != nil {
		i.obs.ObserveRequest(method, code.String(), took)
	}
	level := levelFor(code)
	if !i.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.Duration("duration", took),
		slog.String("code", code.String()),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
	}
	if m, ok := req.(proto.Message); ok && i.logger.Enabled(ctx, slog.LevelDebug) {
		attrs = append(attrs, slog.Any("request", redacted{m}))
	}
	i.logger.LogAttrs(ctx, level, "cri call", attrs...)
}

// levelFor picks the log level of a finished call: successes are debug
// noise (a kubelet polls several times a second), answers that tell the
// client what it did wrong are info, and failures of the daemon itself are
// errors.
func levelFor(c codes.Code) slog.Level {
	switch c {
	case codes.OK:
		return slog.LevelDebug
	case codes.Unknown, codes.Internal, codes.DataLoss, codes.Unavailable:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// trimMethod turns "/runtime.v1.RuntimeService/Version" into
// "runtime.v1.RuntimeService/Version".
func trimMethod(full string) string {
	if len(full) > 0 && full[0] == '/' {
		return full[1:]
	}
	return full
}

// serverStream is a stream whose context also ends when the daemon shuts
// down.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }
