package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/criserver"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/container"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/runc"
	"github.com/logbook-cri/logbook/runtime/sandbox"
)

// Names of the binaries logbookd runs, looked up next to its own
// executable (where `make build` and a package put them).
const (
	ShimBinaryName  = "logbook-shim"
	PauseBinaryName = "logbook-pause"
)

// lifecycleParts is the pod and container side of the daemon: runc, the
// two aggregates, and what Status reports of them. Close stops the
// aggregates' monitors; containers and infra processes keep running, as
// they outlive the daemon.
type lifecycleParts struct {
	// Sandboxes and Containers are nil (so their RPCs are Unimplemented)
	// when the shim or pause binary is not installed.
	Sandboxes    criserver.Sandboxes
	Containers   criserver.Containers
	Capabilities criserver.Capabilities

	closers []func() error
}

// startLifecycle detects the host (refusing the systemd cgroup driver
// without systemd, and clamping oom_score_adj where negative values are
// refused), builds runc and the two aggregates, and recovers: containers
// first (exits journaled, live shims monitored, interrupted creations
// rolled back), then sandboxes, then the leak scan. It runs after the
// projection is rebuilt and before the socket serves.
func startLifecycle(ctx context.Context, cfg *config.Config, j runtime.Appender, store *projector.Store,
	imgs *imageParts, podNetwork sandbox.Network, log *slog.Logger) (*lifecycleParts, error) {
	layout := runtime.Layout{Root: cfg.Root, State: cfg.State}
	cg, err := cgroups.Detect()
	if err != nil {
		return nil, fmt.Errorf("detect cgroups: %w", err)
	}
	driver, err := cg.SelectDriver(cfg.SystemdCgroup)
	if err != nil {
		return nil, err
	}
	host, err := runtime.DetectHost(ctx, runtime.HostOptions{Cgroups: cg, Driver: driver, Runc: cfg.RuntimePath})
	if err != nil {
		return nil, fmt.Errorf("detect the host: %w", err)
	}
	if host.RestrictOOMScoreAdj {
		log.Warn("this kernel refuses lowering oom_score_adj: container and pod scores are clamped",
			"min_oom_score_adj", host.MinOOMScoreAdj)
	}
	p := &lifecycleParts{Capabilities: capabilities{host}}
	shimBin, pauseBin, err := binaries()
	if err != nil {
		// A daemon without its shim still serves images and the journal;
		// it says loudly why it runs no pods.
		log.Error("pods and containers are disabled", "err", err)
		return p, nil
	}
	r, err := runc.New(runc.Config{
		Binary: cfg.RuntimePath, Root: layout.RuncRoot(), ShimBinary: shimBin,
		SystemdCgroup: driver == cgroups.DriverSystemd, TempDir: filepath.Join(cfg.State, "tmp"),
		Logger: log.With("component", "runc"),
	})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.State, "tmp"), 0o700); err != nil {
		return nil, err
	}
	locks, names := &runtime.Locks{}, &runtime.Names{}
	rec := runtime.Recorder{Journal: j}
	ctrs, err := container.New(container.Config{
		Layout: layout, Projection: store, Recorder: rec, Locks: locks, Names: names,
		Runc: r, Host: host, Images: imgs.Store, Cgroups: cg, Logger: log.With("component", "container"),
	})
	if err != nil {
		return nil, err
	}
	sbs, err := sandbox.New(sandbox.Config{
		Layout: layout, Projection: store, Recorder: rec, Locks: locks, Names: names,
		Runc: r, Host: host, PauseBinary: pauseBin,
		SandboxImage: cfg.PodSandboxImage, Images: imgs.Store, Puller: puller{imgs},
		Network: podNetwork, Containers: ctrs, Logger: log.With("component", "sandbox"),
	})
	if err != nil {
		return nil, errors.Join(err, ctrs.Close())
	}
	p.Sandboxes, p.Containers = sbs, ctrs
	p.closers = []func() error{sbs.Close, ctrs.Close}

	// Recovery. A failure on one object is logged and does not keep the
	// node down: the others are served, and the next start tries again.
	start := time.Now()
	if err := ctrs.Recover(ctx); err != nil {
		log.Error("container recovery", "err", err)
	}
	if err := sbs.Recover(ctx); err != nil {
		log.Error("sandbox recovery", "err", err)
	}
	if err := ctrs.CleanLeaks(ctx); err != nil {
		log.Error("leak scan", "err", err)
	}
	log.Info("pods recovered", "sandboxes", len(store.ListSandboxes(nil)), "containers", len(store.ListContainers(nil)),
		"cgroup_driver", driver, "cgroups", cg.Mode, "rro", host.RecursiveReadOnlyMounts,
		"took", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// Close stops the monitors of both aggregates.
func (p *lifecycleParts) Close() error {
	var errs []error
	for _, c := range p.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// binaries finds the shim and the pause binaries next to logbookd's own
// executable (where make build and packages put them), else in PATH.
func binaries() (shimBin, pauseBin string, err error) {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	find := func(name string) (string, error) {
		if err == nil {
			p := filepath.Join(filepath.Dir(exe), name)
			if _, serr := os.Stat(p); serr == nil {
				return p, nil
			}
		}
		p, lerr := exec.LookPath(name)
		if lerr != nil {
			return "", fmt.Errorf("%s is neither next to logbookd nor in PATH (make build puts both in bin/)", name)
		}
		return p, nil
	}
	if shimBin, err = find(ShimBinaryName); err != nil {
		return "", "", err
	}
	if pauseBin, err = find(PauseBinaryName); err != nil {
		return "", "", err
	}
	return shimBin, pauseBin, nil
}

// puller pulls a missing pod-sandbox-image through the image aggregate.
type puller struct{ imgs *imageParts }

func (p puller) PullImage(ctx context.Context, ref string) (string, error) {
	return p.imgs.Service.Pull(ctx, ref, nil)
}

// capabilities is what Status reports: the default handler and "runc",
// with recursive read-only mounts when runc and the kernel have them;
// supplemental groups policy and bind mount options are implemented.
type capabilities struct{ host oci.Host }

func (c capabilities) RuntimeHandlers() []*runtimeapi.RuntimeHandler {
	var out []*runtimeapi.RuntimeHandler
	for _, name := range []string{"", "runc"} {
		out = append(out, &runtimeapi.RuntimeHandler{Name: name, Features: &runtimeapi.RuntimeHandlerFeatures{
			RecursiveReadOnlyMounts: c.host.RecursiveReadOnlyMounts,
		}})
	}
	return out
}

func (c capabilities) RuntimeFeatures() *runtimeapi.RuntimeFeatures {
	return &runtimeapi.RuntimeFeatures{SupplementalGroupsPolicy: true, MountOptions: true}
}
