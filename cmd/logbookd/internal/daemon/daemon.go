package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/criserver"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/remote"
	"github.com/logbook-cri/logbook/metrics"
	"github.com/logbook-cri/logbook/projector"
	"google.golang.org/grpc"
)

// Lock and data file names inside the root and state directories.
const (
	LockName    = "logbookd.lock"
	JournalName = "journal.db"
)

// DefaultShutdownTimeout bounds how long in-flight RPCs may run after a stop
// signal before they are cut.
const DefaultShutdownTimeout = 10 * time.Second

// Options is what Run needs from the command line.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// Version is logbook's build version (criserver.BuildVersion).
	Version string
	// ShutdownTimeout bounds the graceful stop; zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Serving, when set, is called once the daemon accepts connections,
	// with the socket path and the metrics address (nil when disabled).
	Serving func(socket string, metricsAddr net.Addr)
}

// Run runs the daemon until ctx ends, then shuts it down gracefully: the
// socket stops accepting, calls in flight get ShutdownTimeout to finish,
// the metrics endpoint stops, and everything opened is closed in reverse
// order. It returns nil after a clean shutdown, or the error that stopped
// the daemon (at startup: a lock held, a live socket, a bad journal).
func Run(ctx context.Context, o Options) (err error) {
	cfg, log := o.Config, o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}

	// closers run in reverse order on the way out, whatever the way out.
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			err = errors.Join(err, closers[i]())
		}
	}()
	onExit := func(fn func() error) { closers = append(closers, fn) }

	// ── Directories and locks ───────────────────────────────────────────
	// One daemon per state directory, per root directory and per socket.
	// The locks come first, so a second daemon refuses before it touches
	// anything.
	for _, dir := range []string{cfg.State, cfg.Root} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	for _, path := range []string{
		filepath.Join(cfg.State, LockName),
		filepath.Join(cfg.Root, LockName),
		cfg.Socket + ".lock",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		l, err := lock(path)
		if err != nil {
			return err
		}
		onExit(l.unlock)
	}

	// ── Metrics ─────────────────────────────────────────────────────────
	// A registry of the daemon's own; collectors are fed whether or not
	// the endpoint is enabled.
	reg := metrics.NewRegistry()
	criMetrics, err := metrics.NewCRI(reg)
	if err != nil {
		return err
	}
	journalMetrics, err := metrics.NewJournal(reg)
	if err != nil {
		return err
	}

	// ── Journal and projection ──────────────────────────────────────────
	// The journal, <root>/journal.db, is the source of truth; the live
	// projection is rebuilt from it (newest snapshot plus the records
	// after it) and then fed every durable batch by the journal's commit
	// hook, before the appenders return, so a caller reads its own writes.
	// Nothing appends before the store is set, so the hook's forward
	// reference is safe; records the load already folded are ignored.
	var store *projector.Store
	j, err := journal.Open(filepath.Join(cfg.Root, JournalName), journal.Options{
		Logger:   log,
		Metrics:  journalMetrics,
		OnCommit: func(recs []journal.Record) { store.ApplyRecords(recs) },
	})
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	onExit(j.Close)
	if err := metrics.RegisterJournalStats(reg, j); err != nil {
		return err
	}
	store, err = openProjection(ctx, j, log)
	if err != nil {
		return err
	}
	// A clean shutdown leaves a snapshot at the head, so the next start
	// folds nothing (closers run in reverse: after everything that
	// appends has stopped, before the journal closes).
	onExit(func() error { return checkpoint(store, j, log) })
	onExit(startCheckpoints(j, store, checkpointEvery, checkpointPoll, log).stop)
	// The retention policy: snapshot plus tail (see package projector).
	retention := startRetention(j, store, cfg.JournalRetention.Std(), log)
	onExit(retention.stop)

	// ── Images (store, aggregate, reconciliation, GC; see images.go) ────
	imgs, err := startImages(cfg, j, store, reg, log)
	if err != nil {
		return err
	}
	onExit(imgs.Close)

	// ── Events, stats and lifecycle metrics (see events.go) ─────────────
	evs, err := startEvents(cfg, j, store, reg, log)
	if err != nil {
		return err
	}
	onExit(evs.Close)

	// ── Pod network (CNI; see network.go) ───────────────────────────────
	podNetwork, err := startNetwork(cfg, log)
	if err != nil {
		return err
	}
	onExit(podNetwork.Close)

	// ── Pods and containers (runc, shims, recovery; see lifecycle.go) ───
	// Recovery runs here, before the socket serves. Shutdown stops only
	// the monitors: containers outlive the daemon.
	pods, err := startLifecycle(ctx, cfg, j, store, imgs, podNetwork, log)
	if err != nil {
		return err
	}
	onExit(pods.Close)

	// ── Exec, attach, port-forward (see streaming.go) ───────────────────
	// Closed after the socket stops serving (closers run in reverse):
	// sessions still open end then.
	streams, err := startStreaming(cfg, store, evs.Metrics, log)
	if err != nil {
		return err
	}
	onExit(streams.Close)

	// ── gRPC services on the CRI socket ─────────────────────────────────
	cri, err := criserver.New(criserver.Deps{
		Config:       cfg,
		Logger:       log,
		BuildVersion: o.Version,
		Projection:   store,
		Events:       evs.Feed,
		Stats:        evs.Stats,
		Network:      podNetwork,
		Images:       imgs.Service,
		Capabilities: pods.Capabilities,
		Sandboxes:    pods.Sandboxes,
		Containers:   pods.Containers,
		Exec:         streams.Exec,
		Streams:      streams.Streams,
		// Runtime, Capabilities, Network: the runtime and network
		// packages plug in here as they land; nil means the honest
		// defaults (see package criserver).
	})
	if err != nil {
		return err
	}
	// ctx ending is the start of the shutdown: open streams (event streams,
	// journal tails) end then, so the graceful stop need not wait for them.
	calls := new(criserver.UnaryCalls)
	g := grpc.NewServer(criserver.ServerOptions(log, metrics.RequestObservers{criMetrics, evs.Metrics}, ctx, calls)...)
	cri.Register(g)
	// Every other service registers on the same server, so that it shares
	// the socket, the interceptors and the limits: the journal's read
	// service, for `logbook journal ...` against a running daemon, ...
	remote.Register(g, j)

	ln, err := listenSocket(cfg.Socket)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ln) }()
	onExit(func() error {
		_, err := stopServer(g, served, o.ShutdownTimeout, calls, log)
		// Closing the listener unlinks the socket; make sure of it, as the
		// socket's lock says the path is ours.
		if rmErr := os.Remove(cfg.Socket); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		return err
	})

	// ── Metrics endpoint ────────────────────────────────────────────────
	var metricsAddr net.Addr
	if cfg.MetricsAddress != "" {
		ms, err := metrics.Serve(cfg.MetricsAddress, reg, log, cfg.EnableProfiling)
		if err != nil {
			return err
		}
		onExit(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
			defer cancel()
			return ms.Close(ctx)
		})
		metricsAddr = ms.Addr()
		log.Info("metrics endpoint", "address", metricsAddr.String(), "path", metrics.Path)
	}

	log.Info("logbookd serving", "socket", cfg.Socket, "root", cfg.Root, "state", cfg.State,
		"version", o.Version, "cgroup_driver", cfg.CgroupDriver(), "runtime", cfg.RuntimePath)
	if o.Serving != nil {
		o.Serving(cfg.Socket, metricsAddr)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
		return nil
	case err := <-served:
		// Serve ended on its own: the listener failed. The closer waits on
		// served too; this error is reported here, once.
		served <- nil
		return fmt.Errorf("serving %s: %w", cfg.Socket, err)
	}
}

// How a stop ended: every call finished, the streams left once the unary
// calls were done were cut, or the timeout cut whatever was left.
type stopEnd int

const (
	stopGraceful stopEnd = iota
	stopStreamsCut
	stopTimedOut
)

// streamGrace is how long streams may take to flush their last messages
// once the unary calls are done. Their handlers were told to end when the
// shutdown began; one still open now has a client that does not read
// (a paused `logbook journal follow`, a stuck event consumer).
const streamGrace = time.Second

// stopServer stops accepting and lets calls in flight finish within
// timeout, then cuts the rest; when calls (may be nil) shows no unary call
// left, the remaining streams are cut after streamGrace instead. It waits
// for Serve (whose result arrives on served) to return, says how the stop
// ended, and returns Serve's error.
func stopServer(g *grpc.Server, served <-chan error, timeout time.Duration, calls *criserver.UnaryCalls, log *slog.Logger) (end stopEnd, err error) {
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var idle <-chan struct{}
	if calls != nil {
		idle = calls.Idle()
	}
	cut := func(e stopEnd, msg string, args ...any) {
		log.Warn(msg, args...)
		end = e
		g.Stop()
		<-stopped
	}
	select {
	case <-stopped:
	case <-timer.C:
		cut(stopTimedOut, "graceful stop timed out; cutting the remaining calls", "timeout", timeout)
	case <-idle:
		grace := time.NewTimer(streamGrace)
		defer grace.Stop()
		select {
		case <-stopped:
		case <-timer.C:
			cut(stopTimedOut, "graceful stop timed out; cutting the remaining calls", "timeout", timeout)
		case <-grace.C:
			cut(stopStreamsCut, "cutting streams whose clients do not read", "grace", streamGrace)
		}
	}
	return end, <-served
}
