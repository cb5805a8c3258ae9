package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/runc"
)

// Handlers are the runtime handlers (RuntimeClass handlers) logbook runs:
// the default and its explicit name.
var handlers = []string{"", "runc"}

// DefaultShmSize is the size of a pod's /dev/shm tmpfs.
const DefaultShmSize = 64 << 20

// plan is everything RunPodSandbox decided before touching anything.
type plan struct {
	id      string
	cfg     *runtimeapi.PodSandboxConfig
	handler string
	hostNet bool
	hostIPC bool
	netns   string // "" with host network
	shm     string // "" with host IPC
	// cgroupParent is the pod's cgroup parent as the driver names it.
	cgroupParent string
	spec         *specs.Spec
	// image is the pod-sandbox-image, nil for the built-in pause.
	image *projector.Image
}

// RunPodSandbox creates and starts a pod sandbox and returns its ID: the
// pod's files, /dev/shm and network namespace, its network, and its infra
// process. See the package documentation for the order and the rollback.
func (s *Service) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	if !validHandler(handler) {
		return "", fmt.Errorf("%w: %w %q (this runtime has \"\" and \"runc\")", runtime.ErrNotFound, ErrUnknownHandler, handler)
	}
	id := runtime.NewID()
	st := &steps{start: time.Now()}
	unlock, err := s.cfg.Locks.Lock(ctx, id)
	if err != nil {
		return "", err
	}
	defer unlock()
	img, err := s.sandboxImage(ctx)
	if err != nil {
		return "", err
	}
	p, err := s.plan(id, cfg, handler, img)
	if err != nil {
		return "", err
	}
	name := runtime.SandboxName(cfg.GetMetadata())
	if err := s.cfg.Names.Reserve(name, id); err != nil {
		return "", fmt.Errorf("pod sandbox %s: %w", name, err)
	}
	if _, err := s.cfg.Recorder.Record(ctx, runtime.Event{SandboxID: id, Payload: &events.SandboxCreating{
		Config: cfg, RuntimeHandler: handler, CreatedAt: time.Now().UnixNano(),
		NetnsPath: p.netns, CgroupParent: p.cgroupParent,
	}}); err != nil {
		s.cfg.Names.Release(name, id)
		return "", err
	}
	st.mark("validate+intent")

	u := &runtime.Undo{Log: s.log, ID: id}
	ready, sh, err := s.create(ctx, p, u, st)
	if err == nil {
		if err = s.settle(ctx, id, ready); err != nil {
			err = fmt.Errorf("journal sandbox.ready: %w", err)
		}
		st.mark("ready")
	}
	if err != nil {
		u.Run()
		if rerr := s.settle(ctx, id, &events.SandboxRemoved{Reason: "RunPodSandbox failed: " + err.Error()}); rerr != nil {
			s.log.Error("journal the rollback of a sandbox; recovery will finish it", "sandbox", id, "err", rerr)
		}
		s.cfg.Names.Release(name, id)
		return "", fmt.Errorf("run pod sandbox %s: %w", name, err)
	}
	s.monitor(id, sh)
	s.log.Debug("pod sandbox ready", append([]any{"sandbox", id}, st.attrs()...)...)
	return id, nil
}

// steps times the phases of an operation for its debug log line.
type steps struct {
	start, last time.Time
	names       []string
	took        []time.Duration
}

func (s *steps) mark(name string) {
	now := time.Now()
	if s.last.IsZero() {
		s.last = s.start
	}
	s.names, s.took = append(s.names, name), append(s.took, now.Sub(s.last))
	s.last = now
}

func (s *steps) attrs() []any {
	out := []any{"total", time.Since(s.start)}
	for i, n := range s.names {
		out = append(out, n, s.took[i])
	}
	return out
}

func validHandler(h string) bool {
	for _, x := range handlers {
		if h == x {
			return true
		}
	}
	return false
}

// sandboxImage finds the configured pod-sandbox-image in the projection,
// pulling it when absent; nil when the built-in pause is used.
func (s *Service) sandboxImage(ctx context.Context) (*projector.Image, error) {
	ref := s.cfg.SandboxImage
	if ref == "" {
		return nil, nil
	}
	if img, ok := s.cfg.Projection.Image(ref); ok {
		return img, nil
	}
	if s.cfg.Puller == nil {
		return nil, fmt.Errorf("%w: pod-sandbox-image %q is not present", runtime.ErrFailedPrecondition, ref)
	}
	if _, err := s.cfg.Puller.PullImage(ctx, ref); err != nil {
		return nil, fmt.Errorf("pull pod-sandbox-image %q: %w", ref, err)
	}
	img, ok := s.cfg.Projection.Image(ref)
	if !ok {
		return nil, fmt.Errorf("%w: pod-sandbox-image %q vanished after its pull", runtime.ErrFailedPrecondition, ref)
	}
	return img, nil
}

// plan computes the sandbox's paths and its infra spec, validating the
// request completely before anything is journaled or made.
func (s *Service) plan(id string, cfg *runtimeapi.PodSandboxConfig, handler string, img *projector.Image) (*plan, error) {
	l := s.cfg.Layout
	sc := cfg.GetLinux().GetSecurityContext()
	ns := sc.GetNamespaceOptions()
	p := &plan{
		id: id, cfg: cfg, handler: handler, image: img,
		hostNet: ns.GetNetwork() == runtimeapi.NamespaceMode_NODE,
		hostIPC: ns.GetIpc() == runtimeapi.NamespaceMode_NODE,
	}
	if !p.hostNet {
		p.netns = l.NetNS(id)
	}
	if !p.hostIPC {
		p.shm = l.SandboxShm(id)
	}
	p.cgroupParent = cgroupParent(s.cfg.Host, cfg.GetLinux().GetCgroupParent())
	profiles, err := runtime.SeccompProfiles(sc.GetSeccomp(), sc.GetSeccompProfilePath(), "linux.security_context", sc.GetPrivileged())
	if err != nil {
		return nil, err
	}
	in := oci.SandboxInput{
		ID: id, Config: cfg, Host: s.cfg.Host, Rootfs: l.PauseRootfs(),
		NetNSPath: p.netns, ShmPath: p.shm, SeccompProfiles: profiles,
	}
	if img != nil {
		ic, err := runtime.ImageConfig(img.Config)
		if err != nil {
			return nil, fmt.Errorf("pod-sandbox-image %s: %w", s.cfg.SandboxImage, err)
		}
		args, err := oci.ProcessArgs(nil, nil, ic)
		if err != nil {
			return nil, fmt.Errorf("pod-sandbox-image %s: %w", s.cfg.SandboxImage, err)
		}
		in.Rootfs, in.Args, in.ImageName = l.Rootfs(id), args, s.cfg.SandboxImage
	}
	if p.spec, err = oci.SandboxSpec(in); err != nil {
		return nil, err
	}
	return p, nil
}

// cgroupParent is the cgroup a pod's containers go under, as the driver
// names it: the pod's own, else the node's default.
func cgroupParent(h oci.Host, requested string) string {
	switch {
	case requested != "":
		return requested
	case h.DefaultCgroupParent != "":
		return h.DefaultCgroupParent
	case h.CgroupDriver == oci.Systemd:
		return oci.DefaultSystemdParent
	}
	return oci.DefaultCgroupfsParent
}

// create performs the side effects of RunPodSandbox, pushing the undo of
// each on u as it succeeds. It returns what sandbox.ready records and the
// infra's shim.
func (s *Service) create(ctx context.Context, p *plan, u *runtime.Undo, st *steps) (_ *events.SandboxReady, _ *runc.Shim, err error) {
	l, id := s.cfg.Layout, p.id
	// Rollback steps run even when ctx has ended, bounded on their own.
	later := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	}

	dir := l.SandboxDir(id)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, nil, err
	}
	u.Push(func() error { return runtime.RemoveAll(dir) })
	if p.shm != "" {
		if err := os.Mkdir(p.shm, 0o1777); err != nil {
			return nil, nil, err
		}
		if err := unix.Mount("shm", p.shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
			fmt.Sprintf("mode=1777,size=%d", DefaultShmSize)); err != nil {
			return nil, nil, fmt.Errorf("mount the pod's /dev/shm: %w", err)
		}
		u.Push(func() error { return runtime.Unmount(p.shm) })
	}
	st.mark("dir+shm")

	// The network is set up while the infra process is created: CNI needs
	// only the namespace, the infra only enters it. awaitNetwork joins the
	// setup (on every way out, so the goroutine never outlives create) and
	// pushes its undo once it succeeded.
	var (
		network *events.SandboxNetwork
		netDone chan error
	)
	awaitNetwork := func() error {
		if netDone == nil {
			return nil
		}
		nerr := <-netDone
		netDone = nil
		if nerr != nil {
			return fmt.Errorf("set up the pod network: %w", nerr)
		}
		u.Push(func() error {
			ctx, cancel := later()
			defer cancel()
			return s.cfg.Network.Teardown(ctx, id, p.netns, p.cfg, network)
		})
		return nil
	}
	defer func() {
		if nerr := awaitNetwork(); nerr != nil && err == nil {
			err = nerr
		}
	}()
	if p.netns != "" {
		if err := createNetNS(p.netns); err != nil {
			return nil, nil, err
		}
		u.Push(func() error { return removeNetNS(p.netns) })
		st.mark("netns")
		if s.cfg.Network != nil {
			netDone = make(chan error, 1)
			go func() {
				var nerr error
				network, nerr = s.cfg.Network.Setup(ctx, id, p.netns, p.cfg)
				netDone <- nerr
			}()
		}
	}

	bundle := l.Bundle(id)
	if err := os.MkdirAll(bundle, 0o711); err != nil {
		return nil, nil, err
	}
	u.Push(func() error { return runtime.RemoveAll(bundle) })
	if p.image != nil {
		if err := s.mountImageRootfs(p); err != nil {
			return nil, nil, err
		}
		u.Push(func() error {
			if err := runtime.Unmount(l.Rootfs(id)); err != nil {
				return err
			}
			return runtime.RemoveAll(l.ContainerDir(id))
		})
	}
	b, err := json.Marshal(p.spec)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return nil, nil, err
	}
	stateDir := l.ShimDir(id)
	u.Push(func() error { return runtime.RemoveAll(stateDir) })
	st.mark("spec")
	// Created and started by one runc run: nothing waits between the two
	// for an infra process.
	sh, err := s.cfg.Runc.Create(ctx, runc.CreateOptions{ID: id, Bundle: bundle, StateDir: stateDir, Start: true})
	if err != nil {
		return nil, nil, fmt.Errorf("run the infra process: %w", err)
	}
	st.mark("shim+run")
	u.Push(func() error {
		ctx, cancel := later()
		defer cancel()
		defer sh.Close()
		err := s.cfg.Runc.Delete(ctx, id, true)
		if _, werr := sh.Wait(ctx); werr != nil && !errors.Is(werr, runc.ErrShimDied) && err == nil {
			err = werr
		}
		return err
	})
	if err := awaitNetwork(); err != nil {
		return nil, nil, err
	}
	st.mark("network")
	if err := s.writeFiles(p, network.GetIp()); err != nil {
		return nil, nil, err
	}
	return &events.SandboxReady{Pid: uint32(sh.InitPid()), Network: network}, sh, nil
}

// writeFiles writes the pod's hostname, hosts and resolv.conf.
func (s *Service) writeFiles(p *plan, ip string) error {
	l := s.cfg.Layout
	hostname := Hostname(p.cfg, s.cfg.Host.NodeHostname)
	hostHosts, err := readHostFile("/etc/hosts", p.hostNet)
	if err != nil {
		return err
	}
	hostResolv, err := readHostFile("/etc/resolv.conf", !hasDNS(p.cfg.GetDnsConfig()))
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{l.SandboxHostname(p.id), []byte(hostname + "\n")},
		{l.SandboxHosts(p.id), Hosts(p.hostNet, hostHosts, ip, hostname)},
		{l.SandboxResolvConf(p.id), ResolvConf(p.cfg.GetDnsConfig(), hostResolv)},
	} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readHostFile reads one of the host's /etc files when it is needed; a
// host without it gives an empty file.
func readHostFile(path string, needed bool) ([]byte, error) {
	if !needed {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// mountImageRootfs mounts the pod-sandbox-image as the infra's rootfs: an
// overlay of its layers under a writable layer of the sandbox's own.
func (s *Service) mountImageRootfs(p *plan) error {
	l := s.cfg.Layout
	lowers, err := s.cfg.Images.Lowers(p.image.ChainIDs)
	if err != nil {
		return fmt.Errorf("pod-sandbox-image %s: %w", s.cfg.SandboxImage, err)
	}
	upper, work := filepath.Join(l.ContainerDir(p.id), "upper"), filepath.Join(l.ContainerDir(p.id), "work")
	for _, d := range []string{upper, work, l.Rootfs(p.id)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return runtime.MountOverlay(lowers, upper, work, l.Rootfs(p.id))
}
