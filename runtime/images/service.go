package images

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// Store is what the aggregate needs of the image store (*image.Store).
type Store interface {
	Pull(ctx context.Context, ref string, auth *image.Auth) (*image.Pulled, error)
	GCWith(ctx context.Context, keep func() image.Refs) (image.GCResult, error)
	Check(manifestDigest string, chainIDs []string) (image.Missing, error)
	Usage(ctx context.Context) (image.Usage, error)
	Root() string
}

var _ Store = (*image.Store)(nil)

// Projection is what the aggregate reads of the live projection
// (*projector.Store): the images, and the containers whose images GC must
// keep.
type Projection interface {
	Image(ref string) (*projector.Image, bool)
	ListImages(f *runtimeapi.ImageFilter) []*projector.Image
	ListContainers(f *runtimeapi.ContainerFilter) []*projector.Container
	Creating() ([]*projector.Sandbox, []*projector.Container)
}

var _ Projection = (*projector.Store)(nil)

// Config is what the image aggregate is built from.
type Config struct {
	Store      Store
	Projection Projection
	Recorder   runtime.Recorder
	// Locks serialises operations per image and per name; nil means a set
	// of the aggregate's own (image keys never collide with sandbox or
	// container IDs, so sharing one is harmless too).
	Locks *runtime.Locks
	// Layout locates the containers' writable layers, the other half of
	// ImageFsInfo.
	Layout runtime.Layout
	// SandboxImage is the configured pod-sandbox-image, the one image
	// reported as pinned; empty pins nothing.
	SandboxImage string
	// UsageInterval is how long a measure of the writable layers is
	// served from cache; 0 means 5 s.
	UsageInterval time.Duration
	Logger        *slog.Logger
}

// Service is the image aggregate: PullImage and RemoveImage, the verbose
// parts of ImageStatus, ImageFsInfo, reconciliation at start and garbage
// collection. It starts no goroutine: the periodic collection is its
// owner's loop calling Collect.
type Service struct {
	cfg   Config
	log   *slog.Logger
	locks *runtime.Locks
	// pinned is the normalised pod-sandbox-image ("" when none).
	pinned string
	// containersDir holds every container's writable layer.
	containersDir string

	usageMu  sync.Mutex
	ctrUsage image.Usage // guarded by usageMu; the last measure of containersDir
}

// New builds the aggregate.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Projection == nil || cfg.Recorder.Journal == nil {
		return nil, errors.New("images: Store, Projection and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UsageInterval <= 0 {
		cfg.UsageInterval = 5 * time.Second
	}
	s := &Service{cfg: cfg, log: cfg.Logger, locks: cfg.Locks, containersDir: containersDir(cfg.Layout)}
	if s.locks == nil {
		s.locks = &runtime.Locks{}
	}
	if cfg.SandboxImage != "" {
		r, err := image.Normalize(cfg.SandboxImage)
		if err != nil {
			return nil, fmt.Errorf("images: pod-sandbox-image: %w", err)
		}
		s.pinned = r.String()
	}
	return s, nil
}

// containersDir is the parent of every Layout.ContainerDir.
func containersDir(l runtime.Layout) string {
	return filepath.Dir(l.ContainerDir("x"))
}

// imageByID returns the image whose ID is exactly id.
func (s *Service) imageByID(id string) (*projector.Image, bool) {
	img, ok := s.cfg.Projection.Image(id)
	if !ok || img.ID != id {
		return nil, false
	}
	return img, true
}
