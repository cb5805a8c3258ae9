package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/metrics"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/images"
)

// imageGCInterval is how often the image store is collected besides after
// each removal: it frees the layers of containers removed after their
// images.
const imageGCInterval = 15 * time.Minute

// imageParts is the image side of the daemon: the store (which the
// sandbox and container aggregates read layers from), the aggregate
// (which criserver's ImageService and a sandbox's pod-sandbox-image pull
// go through), and the collection loop. Close stops the loop, then closes
// the store.
type imageParts struct {
	Store   *image.Store
	Service *images.Service

	gc *periodic
}

// startImages opens the image store at Layout.Images() with the configured
// registry mirrors, builds the image aggregate on the journal and the
// projection, reconciles the journal's images with the store (a damaged
// image is logged and reported, not fatal; what nothing keeps is
// collected), and starts the periodic collection.
func startImages(cfg *config.Config, rec runtime.Appender, proj *projector.Store, reg prometheus.Registerer, log *slog.Logger) (*imageParts, error) {
	m, err := metrics.NewImage(reg)
	if err != nil {
		return nil, err
	}
	layout := runtime.Layout{Root: cfg.Root, State: cfg.State}
	store, err := image.Open(layout.Images(), image.Options{
		Mirrors: cfg.RegistryMirrors,
		Logger:  log.With("component", "image"),
		Metrics: m,
	})
	if err != nil {
		return nil, fmt.Errorf("open the image store: %w", err)
	}
	svc, err := images.New(images.Config{
		Store:        store,
		Projection:   proj,
		Recorder:     runtime.Recorder{Journal: rec},
		Layout:       layout,
		SandboxImage: cfg.PodSandboxImage,
		Logger:       log,
	})
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	start := time.Now()
	damaged, err := svc.Reconcile(context.Background())
	if err != nil {
		// A failed collection is no reason to refuse to serve: the next
		// one retries.
		log.Error("image reconciliation", "err", err)
	}
	log.Info("image store open", "root", store.Root(), "mirrors", len(cfg.RegistryMirrors),
		"damaged_images", len(damaged), "took", time.Since(start).Round(time.Millisecond))

	gc := startPeriodic(imageGCInterval, false, func(ctx context.Context) {
		if _, err := svc.Collect(ctx); err != nil && ctx.Err() == nil {
			log.Error("image garbage collection", "err", err)
		}
	})
	return &imageParts{Store: store, Service: svc, gc: gc}, nil
}

// Close stops the collection loop and waits for it, then closes the store
// (which waits for the pulls in flight).
func (p *imageParts) Close() error {
	p.gc.stop()
	return p.Store.Close()
}
