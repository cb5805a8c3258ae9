package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/oom"
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
	Container(id string) (*projector.Container, bool)
	Image(ref string) (*projector.Image, bool)
	ContainersOf(sandboxID string) []*projector.Container
	ListSandboxes(f *runtimeapi.PodSandboxFilter) []*projector.Sandbox
	ListContainers(f *runtimeapi.ContainerFilter) []*projector.Container
	Creating() ([]*projector.Sandbox, []*projector.Container)
	// IDUsed: the journal has seen this sandbox or container ID.
	IDUsed(id string) bool
}

var _ Projection = (*projector.Store)(nil)

// Images gives the layers of an image (image.Store implements it).
type Images interface {
	Lowers(chainIDs []string) ([]string, error)
}

// Config is what the container aggregate is built from.
type Config struct {
	Layout     runtime.Layout
	Projection Projection
	Recorder   runtime.Recorder
	// Locks and Names are shared with the sandbox aggregate.
	Locks  *runtime.Locks
	Names  *runtime.Names
	Runc   *runc.Runc
	Host   oci.Host
	Images Images
	// Cgroups is the host's cgroup layout, for the leak scan.
	Cgroups cgroups.Host
	Logger  *slog.Logger
}

// Service is the container aggregate. It owns one monitor goroutine per
// container with a live shim (each parked in the runtime poller on the
// shim's pidfd, so a thousand containers cost no thread), and the OOM
// watcher's goroutine. Close stops them all; containers keep running.
type Service struct {
	cfg Config
	log *slog.Logger
	oom *oom.Watcher // nil when the host offers no OOM notification

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	watches map[string]*watch // guarded by mu: container ID -> its monitor
}

// watch is the monitor of one container's shim, and what orders the two
// events that do not come from a CRI call under the container's lock:
// container.started (StartContainer) and container.exited (the monitor).
type watch struct {
	id, sandboxID string
	shim          *runc.Shim
	cg            cgroups.Cgroup // zero when runc's state was unreadable

	// mu orders container.started before container.exited: StartContainer
	// holds it across runc start and its journal entry, the monitor takes
	// it to journal the exit. exited says the exit is journaled (by the
	// monitor, or by a failed start), so it is never journaled twice.
	mu       sync.Mutex
	exited   bool
	finished bool // the exit path is past its journal entry

	oomKilled atomic.Bool   // the OOM watcher saw a kill in the cgroup
	done      chan struct{} // closed once the exit is journaled and runc forgot the container

	// jmu guards journalErr and stalled: the monitor's last failure to
	// journal the exit while it keeps trying (a full disk), and a channel
	// closed at the first, so that a stop waiting for the exit reports
	// the failure at once instead of waiting out killWait.
	jmu        sync.Mutex
	journalErr error
	stalled    chan struct{}
}

// stalledCh is closed once journaling the exit has failed.
func (w *watch) stalledCh() <-chan struct{} {
	w.jmu.Lock()
	defer w.jmu.Unlock()
	if w.stalled == nil {
		w.stalled = make(chan struct{})
	}
	return w.stalled
}

// journalFailed records a failure to journal the exit.
func (w *watch) journalFailed(err error) {
	w.jmu.Lock()
	defer w.jmu.Unlock()
	w.journalErr = err
	if w.stalled == nil {
		w.stalled = make(chan struct{})
	}
	select {
	case <-w.stalled:
	default:
		close(w.stalled)
	}
}

// failing tells whether journaling the exit has failed and not yet
// succeeded.
func (w *watch) failing() bool {
	w.jmu.Lock()
	defer w.jmu.Unlock()
	return w.journalErr != nil
}

// notStopped is the error of a stop whose exit was not journaled in time:
// the journal's failure when that is why.
func (w *watch) notStopped() error {
	w.jmu.Lock()
	jerr := w.journalErr
	w.jmu.Unlock()
	if jerr != nil {
		return fmt.Errorf("%w: %s was killed, but its exit cannot be journaled yet (retried until it is): %w", ErrNotStopped, w.id, jerr)
	}
	return fmt.Errorf("%w: %s, %v after SIGKILL", ErrNotStopped, w.id, killWait)
}

// New builds the aggregate and starts its OOM watcher.
func New(cfg Config) (*Service, error) {
	if cfg.Projection == nil || cfg.Locks == nil || cfg.Names == nil || cfg.Runc == nil || cfg.Images == nil {
		return nil, errors.New("container: Projection, Locks, Names, Runc and Images are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, watches: map[string]*watch{}}
	w, err := oom.New(s.onOOM, cfg.Logger)
	if err != nil {
		// The exit path reads the cgroup's counter anyway (brief invariant
		// 7); the watcher only makes the news early.
		s.log.Warn("no OOM watcher; OOM kills are still read from each cgroup at exit", "err", err)
	}
	s.oom = w
	return s, nil
}

// Close stops the monitors and the OOM watcher and waits for them.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	if s.oom != nil {
		return s.oom.Close()
	}
	return nil
}

// onOOM journals an OOM kill the watcher saw (container.oom). It holds the
// watch's mu, as the exit path does to journal the exit, so the news of a
// kill is never journaled after the container is removed: removal waits
// for the exit path, which waits for this.
func (s *Service) onOOM(ev oom.Event) {
	s.mu.Lock()
	w := s.watches[ev.ID]
	s.mu.Unlock()
	s.log.Info("OOM kill in a container", "container", ev.ID, "oom_kills", ev.OOMKills)
	if w == nil {
		return
	}
	w.oomKilled.Store(true)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return
	}
	if err := s.settle(s.ctx, w.sandboxID, w.id, &events.ContainerOOM{OomKills: ev.OOMKills, ObservedAt: ev.Time.UnixNano()}); err != nil {
		s.log.Warn("journal an OOM kill", "container", w.id, "err", err)
	}
}

// lookup finds a visible container by ID or unique prefix.
func (s *Service) lookup(id string) (*projector.Container, bool) {
	if c, ok := s.cfg.Projection.Container(id); ok {
		return c, true
	}
	if l := s.cfg.Projection.ListContainers(&runtimeapi.ContainerFilter{Id: id}); len(l) == 1 {
		return l[0], true
	}
	return nil, false
}

// lockContainer finds a container by ID or unique prefix, takes its locks
// in the documented order (its sandbox's shared, then its own
// exclusively) and reads it again under them. ok is false if there is no
// such container, or it was removed meanwhile.
func (s *Service) lockContainer(ctx context.Context, id string) (cur *projector.Container, unlock func(), ok bool, err error) {
	c, ok := s.lookup(id)
	if !ok {
		return nil, nil, false, nil
	}
	unlockSb, err := s.cfg.Locks.RLock(ctx, c.SandboxID)
	if err != nil {
		return nil, nil, false, err
	}
	unlockC, err := s.cfg.Locks.Lock(ctx, c.ID)
	if err != nil {
		unlockSb()
		return nil, nil, false, err
	}
	unlock = func() { unlockC(); unlockSb() }
	cur, ok = s.cfg.Projection.Container(c.ID)
	if !ok {
		unlock()
		return nil, nil, false, nil
	}
	return cur, unlock, true, nil
}

func (s *Service) settle(ctx context.Context, sandboxID, id string, payloads ...proto.Message) error {
	evs := make([]runtime.Event, len(payloads))
	for i, p := range payloads {
		evs[i] = runtime.Event{SandboxID: sandboxID, ContainerID: id, Payload: p}
	}
	_, err := s.cfg.Recorder.Settle(ctx, evs...)
	return err
}

func (s *Service) watchOf(id string) *watch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watches[id]
}

// monitor registers w and starts the goroutine that waits for its shim.
func (s *Service) monitor(w *watch) {
	s.mu.Lock()
	s.watches[w.id] = w
	s.mu.Unlock()
	if s.oom != nil && !w.cg.IsZero() {
		if err := s.oom.Add(w.id, w.cg); err != nil {
			s.log.Debug("OOM watch", "container", w.id, "err", err)
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ex, err := w.shim.Wait(s.ctx)
		if s.ctx.Err() != nil {
			w.shim.Close()
			return // the daemon stops; the container runs on
		}
		w.shim.Close()
		e := exitOf(ex)
		if err != nil {
			s.log.Error("a container's shim died without recording its exit", "container", w.id, "err", err)
			e = s.orphaned(w.id, err)
		}
		s.finish(w, e)
	}()
}

// exitInfo is what container.exited records.
type exitInfo struct {
	code    int32
	at      time.Time
	reason  string // "" for Completed or Error by the code
	message string
}

func exitOf(ex shim.Exit) exitInfo {
	return exitInfo{code: int32(ex.Status), at: ex.At}
}

// orphaned handles a container whose shim is gone without an exit record:
// whatever still runs in it is killed, and its exit is unknown.
func (s *Service) orphaned(id string, cause error) exitInfo {
	ctx, cancel := context.WithTimeout(s.ctx, killWait)
	defer cancel()
	if err := s.cfg.Runc.Kill(ctx, id, syscall.SIGKILL, true); err != nil &&
		!errors.Is(err, runc.ErrNotRunning) && !errors.Is(err, runc.ErrNotFound) {
		s.log.Warn("kill an orphaned container", "container", id, "err", err)
	}
	return exitInfo{code: UnknownExitCode, at: time.Now(), reason: ReasonUnknown,
		message: "no exit status was recorded (the node restarted or the container's shim was killed): " + cause.Error()}
}

// finish journals a container's exit (unless a failed start did) with the
// OOM verdict read from its cgroup before runc removes the cgroup, then
// has runc forget the container.
func (s *Service) finish(w *watch, e exitInfo) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), killWait)
	defer cancel()
	oomKilled := w.oomKilled.Load()
	if !w.cg.IsZero() {
		if n, err := cgroups.OOMKills(w.cg); err == nil && n > 0 {
			oomKilled = true
		}
	}
	w.mu.Lock()
	if !w.exited {
		// The exit happened: until the journal says so, every status is
		// wrong. A failed append (a full disk) is retried until it
		// succeeds; only the daemon's stop ends the attempts, and then
		// recovery journals the exit from the shim's record at the next
		// start.
		ev := &events.ContainerExited{
			ExitCode: e.code, FinishedAt: e.at.UnixNano(),
			Reason: ExitReason(e.code, oomKilled, e.reason), Message: e.message,
		}
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := s.settle(s.ctx, w.sandboxID, w.id, ev)
			if err == nil {
				w.jmu.Lock()
				w.journalErr = nil
				w.jmu.Unlock()
				break
			}
			w.journalFailed(err)
			s.log.Error("journal a container's exit; trying again", "container", w.id, "in", backoff, "err", err)
			select {
			case <-s.ctx.Done():
				s.log.Error("the daemon stops before a container's exit could be journaled; recovery will at the next start", "container", w.id)
			case <-time.After(backoff):
				continue
			}
			break
		}
		w.exited = true
	}
	w.finished = true
	w.mu.Unlock()
	if err := s.cfg.Runc.Delete(ctx, w.id, true); err != nil && !errors.Is(err, runc.ErrNotFound) {
		s.log.Warn("delete an exited container from runc", "container", w.id, "err", err)
	}
	// An exited container never runs again: its rootfs is unmounted now
	// (the writable layer stays until removal), so the node does not carry
	// a mount per exited container, which every later container's mount
	// namespace would copy.
	if err := runtime.Unmount(s.cfg.Layout.Rootfs(w.id)); err != nil {
		s.log.Warn("unmount an exited container's rootfs", "container", w.id, "err", err)
	}
	if s.oom != nil {
		s.oom.Remove(w.id)
	}
	close(w.done)
	s.mu.Lock()
	if s.watches[w.id] == w {
		delete(s.watches, w.id)
	}
	s.mu.Unlock()
}

// killWait bounds how long a SIGKILLed container may take to be reaped.
const killWait = 30 * time.Second

// awaitExit waits until w's exit is journaled and runc forgot it, or d
// passes (false), or journaling the exit has failed (false), or ctx ends.
func (s *Service) awaitExit(ctx context.Context, w *watch, d time.Duration) (bool, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	stalled := w.stalledCh()
	for {
		select {
		case <-w.done:
			return true, nil
		case <-t.C:
			return false, nil
		case <-stalled:
			if w.failing() {
				return false, nil
			}
			stalled = nil // it failed, then succeeded: done comes next
		case <-ctx.Done():
			return false, ctx.Err()
		case <-s.ctx.Done():
			return false, s.ctx.Err()
		}
	}
}

func notFound(what, id string) error {
	return fmt.Errorf("%s %q: %w", what, id, runtime.ErrNotFound)
}
