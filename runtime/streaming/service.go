package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/runc"
	"github.com/logbook-cri/logbook/runtime/shim"
)

// Projection is what the service reads of the live projection
// (*projector.Store): a container's state, a sandbox's readiness and
// network namespace.
type Projection interface {
	Container(id string) (*projector.Container, bool)
	ListContainers(f *runtimeapi.ContainerFilter) []*projector.Container
	Sandbox(id string) (*projector.Sandbox, bool)
	ListSandboxes(f *runtimeapi.PodSandboxFilter) []*projector.Sandbox
}

var _ Projection = (*projector.Store)(nil)

// Metrics counts what operators should see of execs
// (*metrics.Lifecycle implements it: logbook_exec_sync_output_truncated_total).
type Metrics interface {
	// ExecOutputCut is called once per stream ("stdout", "stderr") of an
	// ExecSync whose output went past the budget.
	ExecOutputCut(stream string)
}

// Config is what the service is built from.
type Config struct {
	Layout     runtime.Layout
	Projection Projection
	// Runc runs the execs; it is stateless, so the daemon may share the
	// lifecycle's or make its own on the same root.
	Runc *runc.Runc
	// Metrics may be nil.
	Metrics Metrics
	Logger  *slog.Logger
	// OutputBudget bounds the output of one ExecSync; zero means
	// OutputBudget (the kubelet's limit less a margin).
	OutputBudget int
}

// Service runs execs, attaches and port-forwards against the containers
// and sandboxes of the projection. It owns the goroutines that copy a
// session's input after the session has ended (see doc.go); Close ends the
// sessions still running and waits for them.
type Service struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // ends at Close: every session ends with it
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool           // guarded by mu
	wg     sync.WaitGroup // the input copies; Add under mu while !closed
}

// New checks cfg and builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Projection == nil || cfg.Runc == nil || cfg.Layout.State == "" {
		return nil, errors.New("streaming: Layout, Projection and Runc are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OutputBudget <= 0 {
		cfg.OutputBudget = OutputBudget
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel}, nil
}

// Close ends every session still running (their processes are killed,
// their connections closed) and waits for the goroutines the service
// started. An input copy blocked in a read of the caller's stream ends
// when that stream does: close the streaming server first.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// session is the context of one call: it ends with the caller's or at
// Close. ErrClosed once the service is closed.
func (s *Service) session(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if s.ctx.Err() != nil {
		return nil, nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }, nil
}

// goOwned runs fn as a goroutine the service owns; ErrClosed once the
// service is closed.
func (s *Service) goOwned(fn func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return nil
}

// Streams are the caller's ends of an exec or attach. A nil stream is not
// connected. With TTY everything the process writes is on Stdout, and
// Resize delivers the terminal's sizes.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	Resize         <-chan shim.TermSize
}

// container finds a container by ID or unique prefix (as the container
// aggregate does).
func (s *Service) container(id string) (*projector.Container, error) {
	if c, ok := s.cfg.Projection.Container(id); ok {
		return c, nil
	}
	if l := s.cfg.Projection.ListContainers(&runtimeapi.ContainerFilter{Id: id}); len(l) == 1 {
		return l[0], nil
	}
	return nil, fmt.Errorf("container %q: %w", id, runtime.ErrNotFound)
}

// running finds a running container: NotFound, else FailedPrecondition
// when it is not running.
func (s *Service) running(id string) (*projector.Container, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, err
	}
	if c.State != projector.ContainerRunning {
		return nil, fmt.Errorf("%w: %w: container %s is %s", runtime.ErrFailedPrecondition, ErrNotRunning, c.ID, c.State)
	}
	return c, nil
}

// CheckContainer tells whether id names a running container, before a
// streaming URL is handed out for it: nil, or an error wrapping
// runtime.ErrNotFound or runtime.ErrFailedPrecondition.
func (s *Service) CheckContainer(ctx context.Context, id string) error {
	_, err := s.running(id)
	return err
}

// CheckSandbox tells whether id names a ready pod sandbox that can take a
// port-forward.
func (s *Service) CheckSandbox(ctx context.Context, id string) error {
	_, err := s.readySandbox(id)
	return err
}

// process is the process an exec of cmd in container c runs: the
// container's own (user, groups, environment, working directory,
// capabilities, no_new_privs, AppArmor, SELinux label, rlimits), from the
// OCI spec the container was created with, with cmd as its arguments.
func (s *Service) process(c *projector.Container, cmd []string, tty bool) (specs.Process, error) {
	if len(cmd) == 0 {
		return specs.Process{}, s.emptyCommand()
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.Layout.Bundle(c.ID), "config.json"))
	if err != nil {
		return specs.Process{}, fmt.Errorf("%w: %w: container %s: %w", runtime.ErrFailedPrecondition, ErrNoProcess, c.ID, err)
	}
	return execProcess(b, cmd, tty)
}

// execProcess derives an exec's process from a container's config.json.
func execProcess(configJSON []byte, cmd []string, tty bool) (specs.Process, error) {
	var spec struct {
		Process *specs.Process `json:"process"`
	}
	if err := json.Unmarshal(configJSON, &spec); err != nil || spec.Process == nil {
		return specs.Process{}, fmt.Errorf("%w: %w: config.json has no process (%v)", runtime.ErrFailedPrecondition, ErrNoProcess, err)
	}
	p := *spec.Process
	p.Args = append([]string(nil), cmd...)
	p.Terminal = tty
	// The container's terminal size is its own; an exec's terminal is
	// sized by its client (ExecTTY's resizes).
	p.ConsoleSize = nil
	return p, nil
}

// runcError classifies what runc said about a container: gone (NotFound),
// stopped (FailedPrecondition), or anything else as it is.
func runcError(id string, err error) error {
	switch {
	case errors.Is(err, runc.ErrNotFound):
		return fmt.Errorf("%w: container %s: %w", runtime.ErrNotFound, id, err)
	case errors.Is(err, runc.ErrNotRunning):
		return fmt.Errorf("%w: %w: %w", runtime.ErrFailedPrecondition, ErrNotRunning, err)
	}
	return err
}
