package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/moby/sys/mountinfo"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/runc"
)

// plan is everything CreateContainer decided before it journaled anything.
type plan struct {
	id      string
	sb      *projector.Sandbox
	cfg     *runtimeapi.ContainerConfig
	img     *projector.Image
	logPath string
	sources mountSources
	input   oci.ContainerInput // all but the rootfs and the image's /etc files
	stop    runtimeapi.Signal

	// logDir and logTarget are the resolved log directory and the file
	// the shim opens (see logTarget).
	logDir, logTarget string
}

// CreateContainer creates a container in a Ready sandbox from a present
// image, without starting it, and returns its ID. See the package
// documentation for the steps and the rollback.
func (s *Service) CreateContainer(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig) (string, error) {
	sb, ok := s.lookupSandbox(sandboxID)
	if !ok {
		return "", notFound("pod sandbox", sandboxID)
	}
	unlockSb, err := s.cfg.Locks.RLock(ctx, sb.ID)
	if err != nil {
		return "", err
	}
	defer unlockSb()
	if sb, ok = s.cfg.Projection.Sandbox(sb.ID); !ok {
		return "", notFound("pod sandbox", sandboxID)
	}
	if sb.State != projector.SandboxReady {
		return "", fmt.Errorf("%w: pod sandbox %s is %s, not ready", runtime.ErrFailedPrecondition, sb.ID, sb.State)
	}
	imageRef := cfg.GetImage().GetImage()
	img, ok := s.cfg.Projection.Image(imageRef)
	if !ok {
		return "", notFound("image", imageRef)
	}

	id := runtime.NewID()
	unlock, err := s.cfg.Locks.Lock(ctx, id)
	if err != nil {
		return "", err
	}
	defer unlock()
	start := time.Now()
	p, err := s.plan(id, sb, cfg, img)
	if err != nil {
		return "", err
	}
	planned := time.Now()
	name := runtime.ContainerName(sb.Config.GetMetadata(), cfg.GetMetadata())
	if err := s.cfg.Names.Reserve(name, id); err != nil {
		return "", fmt.Errorf("container %s: %w", name, err)
	}
	if _, err := s.cfg.Recorder.Record(ctx, runtime.Event{SandboxID: sb.ID, ContainerID: id, Payload: &events.ContainerCreating{
		Config: cfg, ImageId: img.ID, Image: cfg.GetImage(), LogPath: p.logPath,
		CreatedAt: time.Now().UnixNano(), Mounts: cfg.GetMounts(), StopSignal: p.stop,
		ImageRef: imageRefOf(img),
	}}); err != nil {
		s.cfg.Names.Release(name, id)
		return "", err
	}

	intent := time.Now()
	u := &runtime.Undo{Log: s.log, ID: id}
	created, w, err := s.create(ctx, p, u)
	made := time.Now()
	if err == nil {
		if err = s.settle(ctx, sb.ID, id, created); err != nil {
			err = fmt.Errorf("journal container.created: %w", err)
		}
	}
	if err != nil {
		u.Run()
		if rerr := s.settle(ctx, sb.ID, id, &events.ContainerRemoved{Reason: "CreateContainer failed: " + err.Error()}); rerr != nil {
			s.log.Error("journal the rollback of a container; recovery will finish it", "container", id, "err", rerr)
		}
		s.cfg.Names.Release(name, id)
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	s.monitor(w)
	s.log.Debug("container created", "container", id, "total", time.Since(start), "plan", planned.Sub(start),
		"intent", intent.Sub(planned), "create", made.Sub(intent), "created", time.Since(made))
	return id, nil
}

func (s *Service) lookupSandbox(id string) (*projector.Sandbox, bool) {
	if sb, ok := s.cfg.Projection.Sandbox(id); ok {
		return sb, true
	}
	if l := s.cfg.Projection.ListSandboxes(&runtimeapi.PodSandboxFilter{Id: id}); len(l) == 1 {
		return l[0], true
	}
	return nil, false
}

// imageRefOf is the container's image_ref: the image's first repo digest,
// else its ID.
func imageRefOf(img *projector.Image) string {
	if d := img.RepoDigests(); len(d) > 0 {
		return d[0]
	}
	return img.ID
}

// plan resolves and checks everything that can be known without side
// effects: the log path, the mount sources and their propagation, devices,
// seccomp profiles, the stop signal, and the spec itself (built once here
// as a dry run, without the image's /etc/passwd and /etc/group, which are
// read from the mounted rootfs later). A request refused here leaves no
// trace, not even in the journal.
func (s *Service) plan(id string, sb *projector.Sandbox, cfg *runtimeapi.ContainerConfig, img *projector.Image) (*plan, error) {
	l := s.cfg.Layout
	p := &plan{id: id, sb: sb, cfg: cfg, img: img}
	var err error
	if p.logPath, err = LogPath(sb.Config.GetLogDirectory(), cfg.GetLogPath()); err != nil {
		return nil, err
	}
	if p.logDir, p.logTarget, err = logTarget(sb.Config.GetLogDirectory(), p.logPath); err != nil {
		return nil, err
	}
	imgConfig, err := runtime.ImageConfig(img.Config)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	sig, err := oci.StopSignal(cfg.GetStopSignal(), imgConfig.StopSignal)
	if err != nil {
		return nil, err
	}
	p.stop = signalEnum(sig)

	table, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, err
	}
	if p.sources, err = resolveMounts(cfg.GetMounts(), table); err != nil {
		return nil, err
	}
	devices, err := resolveDevices(cfg.GetDevices())
	if err != nil {
		return nil, err
	}
	sc := cfg.GetLinux().GetSecurityContext()
	profiles, err := runtime.SeccompProfiles(sc.GetSeccomp(), sc.GetSeccompProfilePath(), "linux.security_context", sc.GetPrivileged())
	if err != nil {
		return nil, err
	}
	host := s.cfg.Host
	if sc.GetPrivileged() {
		if host.Devices, err = runtime.HostDevices("/dev"); err != nil {
			return nil, err
		}
	}
	ns, err := s.namespaces(sb, cfg)
	if err != nil {
		return nil, err
	}
	name := cfg.GetImage().GetUserSpecifiedImage()
	if name == "" {
		name = cfg.GetImage().GetImage()
	}
	p.input = oci.ContainerInput{
		ID: id, SandboxID: sb.ID, Config: specConfig(cfg, sb.Config), Sandbox: sb.Config, Host: host,
		Rootfs:     l.Rootfs(id),
		Image:      oci.Image{Name: name, Config: imgConfig},
		Namespaces: ns,
		Files: oci.SandboxFiles{
			Hostname: l.SandboxHostname(sb.ID), Hosts: l.SandboxHosts(sb.ID),
			ResolvConf: l.SandboxResolvConf(sb.ID), Shm: l.SandboxShm(sb.ID),
		},
		MountSources: sourcesForSpec(p.sources), Devices: devices, SeccompProfiles: profiles,
	}
	// The dry run. Without the image's /etc files a user name cannot be
	// resolved yet: that one check waits for the rootfs.
	if _, _, err := oci.ContainerSpec(p.input); err != nil &&
		!errors.Is(err, oci.ErrUnknownUser) && !errors.Is(err, oci.ErrUnknownGroup) {
		return nil, err
	}
	return p, nil
}

// specConfig is the config the spec is built from: the request's, except
// that a container whose network or IPC namespace mode is left at its zero
// value (POD) in a pod that uses the node's gets the node's, as containerd
// does (a container cannot leave its pod's network; kubelets always send
// matching modes, other clients need not). The journal keeps the request
// as it came.
func specConfig(cfg *runtimeapi.ContainerConfig, pod *runtimeapi.PodSandboxConfig) *runtimeapi.ContainerConfig {
	podNs := pod.GetLinux().GetSecurityContext().GetNamespaceOptions()
	ns := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	const node = runtimeapi.NamespaceMode_NODE
	fixNet := ns.GetNetwork() == runtimeapi.NamespaceMode_POD && podNs.GetNetwork() == node
	fixIPC := ns.GetIpc() == runtimeapi.NamespaceMode_POD && podNs.GetIpc() == node
	if !fixNet && !fixIPC {
		return cfg
	}
	out := proto.Clone(cfg).(*runtimeapi.ContainerConfig)
	if out.Linux == nil {
		out.Linux = &runtimeapi.LinuxContainerConfig{}
	}
	if out.Linux.SecurityContext == nil {
		out.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{}
	}
	if out.Linux.SecurityContext.NamespaceOptions == nil {
		out.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{}
	}
	if fixNet {
		out.Linux.SecurityContext.NamespaceOptions.Network = node
	}
	if fixIPC {
		out.Linux.SecurityContext.NamespaceOptions.Ipc = node
	}
	return out
}

// sourcesForSpec maps every host path to what is mounted: the resolved
// path, or the path itself for one yet to be created.
func sourcesForSpec(m mountSources) map[string]string {
	out := make(map[string]string, len(m.resolved)+len(m.missing))
	for k, v := range m.resolved {
		out[k] = v
	}
	for _, k := range m.missing {
		out[k] = k
	}
	return out
}

// namespaces are the paths of the pod's namespaces the container joins:
// the infra process's, and a target container's pid namespace.
func (s *Service) namespaces(sb *projector.Sandbox, cfg *runtimeapi.ContainerConfig) (oci.SandboxNamespaces, error) {
	proc := "/proc/" + strconv.Itoa(int(sb.Pid)) + "/ns/"
	ns := oci.SandboxNamespaces{Network: sb.NetNSPath, IPC: proc + "ipc", UTS: proc + "uts", PID: proc + "pid"}
	opts := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	if opts.GetPid() == runtimeapi.NamespaceMode_TARGET {
		target, ok := s.cfg.Projection.Container(opts.GetTargetId())
		if !ok || target.SandboxID != sb.ID {
			return ns, fmt.Errorf("%w: namespace_options.target_id %q is not a container of sandbox %s", runtime.ErrNotFound, opts.GetTargetId(), sb.ID)
		}
		if target.State != projector.ContainerRunning && target.State != projector.ContainerCreated {
			return ns, fmt.Errorf("%w: target container %s is %s", runtime.ErrFailedPrecondition, target.ID, target.State)
		}
		ns.TargetPID = "/proc/" + strconv.Itoa(int(target.Pid)) + "/ns/pid"
	}
	return ns, nil
}

// create performs the side effects of CreateContainer, pushing the undo of
// each on u as it succeeds.
func (s *Service) create(ctx context.Context, p *plan, u *runtime.Undo) (*events.ContainerCreated, *watch, error) {
	l, id := s.cfg.Layout, p.id
	later := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	}

	// The writable layer and the rootfs.
	dir := l.ContainerDir(id)
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, err
		}
	}
	u.Push(func() error { return runtime.RemoveAll(dir) })
	bundle, rootfs := l.Bundle(id), l.Rootfs(id)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, nil, err
	}
	u.Push(func() error { return runtime.RemoveAll(bundle) })
	lowers, err := s.lowers(p.img, dir)
	if err != nil {
		return nil, nil, err
	}
	if err := runtime.MountOverlay(lowers, upper, work, rootfs); err != nil {
		return nil, nil, err
	}
	u.Push(func() error { return runtime.Unmount(rootfs) })

	// What only the mounted rootfs and the host can tell.
	in := p.input
	if in.Image.Passwd, err = readInRoot(rootfs, "/etc/passwd"); err != nil {
		return nil, nil, err
	}
	if in.Image.Group, err = readInRoot(rootfs, "/etc/group"); err != nil {
		return nil, nil, err
	}
	if err := p.sources.createMissing(); err != nil {
		return nil, nil, err
	}
	in.MountSources = sourcesForSpec(p.sources)
	if err := makeLogDir(p.logDir, p.logTarget); err != nil {
		return nil, nil, fmt.Errorf("log directory: %w", err)
	}
	spec, user, err := oci.ContainerSpec(in)
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return nil, nil, err
	}

	// The container, under its shim.
	stateDir := l.ShimDir(id)
	u.Push(func() error { return runtime.RemoveAll(stateDir) })
	sh, err := s.cfg.Runc.Create(ctx, runc.CreateOptions{
		ID: id, Bundle: bundle, StateDir: stateDir, LogPath: p.logTarget,
		Stdin: p.cfg.GetStdin(), StdinOnce: p.cfg.GetStdinOnce(), Terminal: p.cfg.GetTty(),
	})
	if err != nil {
		return nil, nil, err
	}
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
	if err := p.sources.verify(sh.InitPid(), p.cfg.GetMounts(), spec); err != nil {
		return nil, nil, err
	}
	w := &watch{id: id, sandboxID: p.sb.ID, shim: sh, done: make(chan struct{})}
	if w.cg, err = cgroups.LoadRuncState(s.cfg.Runc.Root(), id); err != nil {
		s.log.Warn("locate a container's cgroup; its OOM kills will not be seen", "container", id, "err", err)
	}
	return &events.ContainerCreated{Pid: uint32(sh.InitPid()), User: user.CRI()}, w, nil
}

// lowers are the overlay's lower layers: the image's snapshots, or an
// empty directory for an image without layers.
func (s *Service) lowers(img *projector.Image, dir string) ([]string, error) {
	if len(img.ChainIDs) == 0 {
		empty := filepath.Join(dir, "empty")
		return []string{empty}, os.MkdirAll(empty, 0o755)
	}
	lowers, err := s.cfg.Images.Lowers(img.ChainIDs)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	return lowers, nil
}
