package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/criserver"
	"github.com/logbook-cri/logbook/criserver/streamserver"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/runc"
	"github.com/logbook-cri/logbook/runtime/streaming"
)

// streamingParts is exec, attach and port-forward: the runtime side
// (ExecSync and the sessions) and the streaming server on
// "stream-address" that hands out and serves the sessions' URLs.
type streamingParts struct {
	Exec    criserver.Exec
	Streams criserver.Streams
	// Addr is where the streaming server listens.
	Addr string

	server  *streamserver.Server
	service *streaming.Service
}

// startStreaming builds the exec service and starts the streaming server.
// The server listens before the CRI socket serves, so a busy
// stream-address fails the start. cuts counts ExecSync outputs cut to the
// response limit (nil: not counted).
func startStreaming(cfg *config.Config, store *projector.Store, cuts streaming.Metrics, log *slog.Logger) (*streamingParts, error) {
	layout := runtime.Layout{Root: cfg.Root, State: cfg.State}
	tmp := filepath.Join(cfg.State, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	// runc holds no state of its own: this executor, on the lifecycle's
	// root, sees the same containers.
	r, err := runc.New(runc.Config{
		Binary: cfg.RuntimePath, Root: layout.RuncRoot(), SystemdCgroup: cfg.SystemdCgroup,
		TempDir: tmp, Logger: log.With("component", "runc"),
	})
	if err != nil {
		return nil, err
	}
	svc, err := streaming.New(streaming.Config{
		Layout: layout, Projection: store, Runc: r, Metrics: cuts,
		Logger: log.With("component", "exec"),
	})
	if err != nil {
		return nil, err
	}
	srv, err := streamserver.Listen(streamserver.Config{
		Addr: cfg.StreamAddress, Runtime: svc, Logger: log.With("component", "streaming"),
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("stream-address %s: %w", cfg.StreamAddress, err), svc.Close())
	}
	log.Info("streaming server", "address", srv.Addr().String(), "url", srv.BaseURL())
	return &streamingParts{Exec: svc, Streams: srv, Addr: srv.Addr().String(), server: srv, service: svc}, nil
}

// Close ends every session: the server first (its connections close, so
// the service's input copies can end), then the service.
func (p *streamingParts) Close() error {
	return errors.Join(p.server.Close(), p.service.Close())
}
