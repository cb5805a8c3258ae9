package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/runc"
	"github.com/logbook-cri/logbook/runtime/shim"
)

// Projection is what the aggregate reads of the live projection
// (*projector.Store).
type Projection interface {
	Sandbox(id string) (*projector.Sandbox, bool)
	ListSandboxes(f *runtimeapi.PodSandboxFilter) []*projector.Sandbox
	Image(ref string) (*projector.Image, bool)
	Creating() ([]*projector.Sandbox, []*projector.Container)
}

var _ Projection = (*projector.Store)(nil)

// Config is what the sandbox aggregate is built from.
type Config struct {
	Layout     runtime.Layout
	Projection Projection
	Recorder   runtime.Recorder
	// Locks and Names are shared with the container aggregate.
	Locks *runtime.Locks
	Names *runtime.Names
	Runc  *runc.Runc
	Host  oci.Host
	// PauseBinary is the built-in infra binary (logbook-pause).
	PauseBinary string
	// SandboxImage, when set, is the image whose rootfs and command run
	// as the infra process instead of the built-in pause.
	SandboxImage string
	Images       Images // layers of SandboxImage (needed when it is set)
	Puller       Puller // pulls SandboxImage when absent; nil: it must be present
	// Network attaches pods to the pod network; nil: loopback only.
	Network Network
	// Containers stops and removes the containers of a pod (required).
	Containers Containers
	Logger     *slog.Logger
}

// Service is the pod sandbox aggregate: RunPodSandbox, StopPodSandbox,
// RemovePodSandbox, UpdatePodSandboxResources and the recovery of
// sandboxes. It owns one goroutine per running infra process (waiting on
// its shim, parked in the runtime poller), which Close stops.
type Service struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the monitors

	mu    sync.Mutex
	infra map[string]*infraWatch // guarded by mu: sandbox ID -> its infra's monitor
}

// infraWatch is the monitor of one infra process.
type infraWatch struct {
	shim *runc.Shim
	// stopping is set by whoever kills the infra on purpose (Stop), so the
	// monitor does not take its exit for a death.
	stopping atomic.Bool
	// done is closed once the infra has exited and runc forgot it.
	done chan struct{}
}

// New builds the aggregate and prepares the built-in infra's rootfs.
func New(cfg Config) (*Service, error) {
	if cfg.Projection == nil || cfg.Locks == nil || cfg.Names == nil || cfg.Runc == nil || cfg.Containers == nil {
		return nil, errors.New("sandbox: Projection, Locks, Names, Runc and Containers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SandboxImage == "" {
		if err := preparePauseRootfs(cfg.Layout.PauseRootfs(), cfg.PauseBinary); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	} else if cfg.Images == nil {
		return nil, errors.New("sandbox: a pod-sandbox-image needs Images")
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, infra: map[string]*infraWatch{}}, nil
}

// Close stops the monitors and waits for them. Infra processes (and
// containers) keep running: they outlive the daemon.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// lookup finds a visible sandbox by ID or by a unique prefix of one.
func (s *Service) lookup(id string) (*projector.Sandbox, bool) {
	if sb, ok := s.cfg.Projection.Sandbox(id); ok {
		return sb, true
	}
	if l := s.cfg.Projection.ListSandboxes(&runtimeapi.PodSandboxFilter{Id: id}); len(l) == 1 {
		return l[0], true
	}
	return nil, false
}

// lockSandbox finds a sandbox by ID or unique prefix, takes its lock and
// reads it again under it. ok is false if there is no such sandbox, or it
// was removed while the lock was awaited.
func (s *Service) lockSandbox(ctx context.Context, id string) (sb *projector.Sandbox, unlock func(), ok bool, err error) {
	if sb, ok = s.lookup(id); !ok {
		return nil, nil, false, nil
	}
	if unlock, err = s.cfg.Locks.Lock(ctx, sb.ID); err != nil {
		return nil, nil, false, err
	}
	if sb, ok = s.cfg.Projection.Sandbox(sb.ID); !ok {
		unlock()
		return nil, nil, false, nil
	}
	return sb, unlock, true, nil
}

// settle journals results; see runtime.Recorder.Settle.
func (s *Service) settle(ctx context.Context, id string, payloads ...proto.Message) error {
	evs := make([]runtime.Event, len(payloads))
	for i, p := range payloads {
		evs[i] = runtime.Event{SandboxID: id, Payload: p}
	}
	_, err := s.cfg.Recorder.Settle(ctx, evs...)
	return err
}

// monitor starts the goroutine that waits for an infra process to exit.
// When it exits on its own (not killed by Stop), the sandbox is stopped:
// its containers are killed and it becomes NotReady.
func (s *Service) monitor(id string, sh *runc.Shim) *infraWatch {
	w := &infraWatch{shim: sh, done: make(chan struct{})}
	s.mu.Lock()
	s.infra[id] = w
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ex, err := sh.Wait(s.ctx)
		if s.ctx.Err() != nil {
			sh.Close()
			return // the daemon stops; the infra runs on
		}
		sh.Close()
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		if derr := s.cfg.Runc.Delete(ctx, id, true); derr != nil {
			s.log.Warn("delete infra container", "sandbox", id, "err", derr)
		}
		cancel()
		s.mu.Lock()
		if s.infra[id] == w {
			delete(s.infra, id)
		}
		s.mu.Unlock()
		close(w.done)
		if w.stopping.Load() {
			return
		}
		s.log.Warn("infra process exited on its own; stopping the sandbox", "sandbox", id, "status", ex.Status, "err", err)
		s.infraDied(id)
	}()
	return w
}

// infraDied stops a sandbox whose infra process is gone, unless a Stop got
// there first.
func (s *Service) infraDied(id string) {
	unlock, err := s.cfg.Locks.Lock(s.ctx, id)
	if err != nil {
		return
	}
	defer unlock()
	sb, ok := s.cfg.Projection.Sandbox(id)
	if !ok || sb.State != projector.SandboxReady {
		return
	}
	if err := s.stopLocked(s.ctx, sb); err != nil {
		s.log.Error("stop a sandbox whose infra died", "sandbox", id, "err", err)
	}
}

// killInfra kills the infra process and waits until it has exited and runc
// has forgotten it. Without a monitor (the shim is gone), it makes sure
// runc has nothing left of it.
func (s *Service) killInfra(ctx context.Context, id string) error {
	s.mu.Lock()
	w := s.infra[id]
	s.mu.Unlock()
	if w == nil {
		killShim(s.cfg.Layout.ShimDir(id))
		if err := s.cfg.Runc.Delete(ctx, id, true); err != nil && !errors.Is(err, runc.ErrNotFound) {
			return fmt.Errorf("delete infra of %s: %w", id, err)
		}
		return nil
	}
	w.stopping.Store(true)
	if err := s.cfg.Runc.Kill(ctx, id, syscall.SIGKILL, true); err != nil &&
		!errors.Is(err, runc.ErrNotRunning) && !errors.Is(err, runc.ErrNotFound) {
		s.log.Warn("kill infra", "sandbox", id, "err", err)
	}
	timer := time.NewTimer(killWait)
	defer timer.Stop()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return s.ctx.Err()
	case <-timer.C:
		return fmt.Errorf("%w: sandbox %s after %v", ErrInfraStuck, id, killWait)
	}
}

// killWait bounds how long a SIGKILLed process may take to be reaped.
const killWait = 30 * time.Second

// killShim kills the shim of a state directory, found by its pid file and
// verified to be that shim, with its process group (runc create, if the
// daemon died while it ran). It is for shims nobody can Wait on.
func killShim(stateDir string) {
	id, err := shim.ReadPidFile(stateDir)
	if err != nil {
		return
	}
	if shim.VerifyProcess("/proc", id) != nil {
		return
	}
	unix.Kill(-id.Pid, unix.SIGKILL)
	unix.Kill(id.Pid, unix.SIGKILL)
}
