package daemon

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/metrics"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/projector/eventstream"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/stats"
)

// eventParts is the read side of the daemon that watches the lifecycle:
// the GetContainerEvents feed (a journal cursor and a private projection
// per stream), the stats collector, and the lifecycle metrics with the
// journal follower that computes them. The follower is the one goroutine
// here; Close stops it and waits for it.
type eventParts struct {
	Feed    eventstream.Feed
	Stats   *stats.Collector
	Metrics *metrics.Lifecycle

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// startEvents builds the event side on the journal and the live
// projection, and starts the lifecycle metrics follower.
func startEvents(cfg *config.Config, j *journal.Journal, store *projector.Store, reg prometheus.Registerer, log *slog.Logger) (*eventParts, error) {
	m, err := metrics.NewLifecycle(reg)
	if err != nil {
		return nil, err
	}
	collector, err := stats.New(stats.Config{
		Projection: store,
		Layout:     runtime.Layout{Root: cfg.Root, State: cfg.State},
		Logger:     log.With("component", "stats"),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &eventParts{
		Feed:    eventstream.Feed{Journal: j, Live: store, Options: eventstream.Options{Logger: log, Metrics: m}},
		Stats:   collector,
		Metrics: m,
		cancel:  cancel,
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		// Follow ends when ctx does (nil) or with its cursor, when the
		// journal closes under it at shutdown.
		if err := m.Follow(ctx, j, store); err != nil && !errors.Is(err, journal.ErrClosed) {
			log.Error("lifecycle metrics stopped following the journal", "err", err)
		}
	}()
	return p, nil
}

// Close stops the follower and waits for it.
func (p *eventParts) Close() error {
	p.cancel()
	p.done.Wait()
	return nil
}
