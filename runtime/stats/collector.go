package stats

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// Projection is what stats reads of the live projection: which containers
// and sandboxes exist, their names, labels, resources and states.
// *projector.Store implements it.
type Projection interface {
	Container(id string) (*projector.Container, bool)
	Sandbox(id string) (*projector.Sandbox, bool)
	ContainersOf(sandboxID string) []*projector.Container
	ListContainers(f *runtimeapi.ContainerFilter) []*projector.Container
	ListSandboxes(f *runtimeapi.PodSandboxFilter) []*projector.Sandbox
}

var _ Projection = (*projector.Store)(nil)

// Config is what a Collector is built from.
type Config struct {
	Projection Projection
	// Layout locates runc's state (the cgroups) and the writable layers.
	Layout runtime.Layout
	// Logger receives what could not be read (debug: a container that
	// exits while it is measured is ordinary). Nil discards.
	Logger *slog.Logger
}

// Collector answers the CRI's stats and metrics calls. It keeps, per
// container and per pod, the previous CPU sample (usage_nano_cores is a
// rate between two samples) and the located cgroup (runc's state.json is
// read once per container), and forgets both when the object is gone.
type Collector struct {
	cfg  Config
	log  *slog.Logger
	fams []family

	mu   sync.Mutex
	prev map[string]cgroups.Stats  // guarded by mu: last sample, by container ID or podKey(sandbox ID)
	cgs  map[string]cgroups.Cgroup // guarded by mu: located cgroups, by runc ID (container or sandbox)
}

// New returns a collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Projection == nil || cfg.Layout.State == "" || cfg.Layout.Root == "" {
		return nil, fmt.Errorf("stats: Projection and Layout are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{cfg: cfg, log: log, fams: families(), prev: map[string]cgroups.Stats{}, cgs: map[string]cgroups.Cgroup{}}, nil
}

func podKey(id string) string { return "pod/" + id }

// layerMount is the identity of the writable layers' filesystem: the
// directory that holds them, as ImageFsInfo names it.
func (c *Collector) layerMount() string { return filepath.Dir(c.cfg.Layout.ContainerDir("x")) }

// cgroupOf locates the cgroup runc made for id (a container, or a pod's
// infra process, whose runc ID is the sandbox's). The zero Cgroup means
// runc has no state for it (not created yet, or deleted).
func (c *Collector) cgroupOf(id string) cgroups.Cgroup {
	c.mu.Lock()
	cg, ok := c.cgs[id]
	c.mu.Unlock()
	if ok {
		return cg
	}
	cg, err := cgroups.LoadRuncState(c.cfg.Layout.RuncRoot(), id)
	if err != nil {
		c.log.Debug("stats: no cgroup", "id", id, "err", err)
		return cgroups.Cgroup{}
	}
	c.mu.Lock()
	c.cgs[id] = cg
	c.mu.Unlock()
	return cg
}

// live reports whether a container (Created or Running) can have a cgroup
// worth reading: an exited one's is gone or about to be.
func live(ctr *projector.Container) bool {
	return ctr.State == projector.ContainerCreated || ctr.State == projector.ContainerRunning
}

// sampleOf reads what there is of a container. What cannot be read is
// absent from the sample, never an error: a container that exits while it
// is measured still gets its attributes reported.
func (c *Collector) sampleOf(ctx context.Context, ctr *projector.Container, procs bool) sample {
	var s sample
	if live(ctr) {
		cg := c.cgroupOf(ctr.ID)
		st, err := readCgroup(cg)
		if err != nil {
			c.log.Debug("stats: read cgroup", "container", ctr.ID, "err", err)
		}
		s.cgroup = st
		if procs && st != nil {
			if s.procs, err = readProcs(cg); err != nil {
				c.log.Debug("stats: read processes", "container", ctr.ID, "err", err)
			}
		}
	}
	l, err := readLayer(ctx, upperDir(c.cfg.Layout.ContainerDir(ctr.ID)))
	if err != nil {
		c.log.Debug("stats: measure writable layer", "container", ctr.ID, "err", err)
	}
	s.layer = l
	return s
}

// swapPrev stores cur as key's last sample and returns the one before.
func (c *Collector) swapPrev(key string, cur *cgroups.Stats) *cgroups.Stats {
	if cur == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, ok := c.prev[key]
	c.prev[key] = *cur
	if !ok {
		return nil
	}
	return &prev
}

// forget drops what is remembered of objects that are gone.
func (c *Collector) forget() {
	c.mu.Lock()
	keys := make([]string, 0, len(c.prev)+len(c.cgs))
	for k := range c.prev {
		keys = append(keys, k)
	}
	for k := range c.cgs {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	var gone []string
	for _, k := range keys {
		id, isPod := k, false
		if len(k) > 4 && k[:4] == "pod/" {
			id, isPod = k[4:], true
		}
		_, okC := c.cfg.Projection.Container(id)
		_, okS := c.cfg.Projection.Sandbox(id)
		if (isPod && !okS) || (!isPod && !okC && !okS) {
			gone = append(gone, k)
		}
	}
	c.mu.Lock()
	for _, k := range gone {
		delete(c.prev, k)
		delete(c.cgs, k)
	}
	c.mu.Unlock()
}

// container resolves a container ID or a unique prefix of one.
func (c *Collector) container(id string) (*projector.Container, error) {
	if ctr, ok := c.cfg.Projection.Container(id); ok {
		return ctr, nil
	}
	if l := c.cfg.Projection.ListContainers(&runtimeapi.ContainerFilter{Id: id}); len(l) == 1 {
		return l[0], nil
	}
	return nil, fmt.Errorf("container %q: %w", id, runtime.ErrNotFound)
}

// sandbox resolves a sandbox ID or a unique prefix of one.
func (c *Collector) sandbox(id string) (*projector.Sandbox, error) {
	if sb, ok := c.cfg.Projection.Sandbox(id); ok {
		return sb, nil
	}
	if l := c.cfg.Projection.ListSandboxes(&runtimeapi.PodSandboxFilter{Id: id}); len(l) == 1 {
		return l[0], nil
	}
	return nil, fmt.Errorf("pod sandbox %q: %w", id, runtime.ErrNotFound)
}

func (c *Collector) containerStats(ctx context.Context, ctr *projector.Container) (*runtimeapi.ContainerStats, sample) {
	s := c.sampleOf(ctx, ctr, false)
	return containerStats(ctr, s, c.swapPrev(ctr.ID, s.cgroup), c.layerMount(), time.Now()), s
}

// ContainerStats is the CRI ContainerStats of one container (an ID or a
// unique prefix); runtime.ErrNotFound if there is no such container.
func (c *Collector) ContainerStats(ctx context.Context, id string) (*runtimeapi.ContainerStats, error) {
	ctr, err := c.container(id)
	if err != nil {
		return nil, err
	}
	st, _ := c.containerStats(ctx, ctr)
	return st, nil
}

// ListContainerStats is the stats of every container the filter matches
// (ID or prefix, sandbox, labels), in creation order.
func (c *Collector) ListContainerStats(ctx context.Context, f *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	var pf *runtimeapi.ContainerFilter
	if f != nil {
		pf = &runtimeapi.ContainerFilter{Id: f.GetId(), PodSandboxId: f.GetPodSandboxId(), LabelSelector: f.GetLabelSelector()}
	}
	ctrs := c.cfg.Projection.ListContainers(pf)
	out := make([]*runtimeapi.ContainerStats, 0, len(ctrs))
	for _, ctr := range ctrs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, _ := c.containerStats(ctx, ctr)
		out = append(out, st)
	}
	c.forget()
	return out, nil
}

// PodSandboxStats is the CRI PodSandboxStats of one sandbox (an ID or a
// unique prefix); runtime.ErrNotFound if there is no such sandbox.
func (c *Collector) PodSandboxStats(ctx context.Context, id string) (*runtimeapi.PodSandboxStats, error) {
	sb, err := c.sandbox(id)
	if err != nil {
		return nil, err
	}
	return c.podStats(ctx, sb), nil
}

// ListPodSandboxStats is the stats of every sandbox the filter matches
// (ID or prefix, labels), in creation order.
func (c *Collector) ListPodSandboxStats(ctx context.Context, f *runtimeapi.PodSandboxStatsFilter) ([]*runtimeapi.PodSandboxStats, error) {
	var pf *runtimeapi.PodSandboxFilter
	if f != nil {
		pf = &runtimeapi.PodSandboxFilter{Id: f.GetId(), LabelSelector: f.GetLabelSelector()}
	}
	sbs := c.cfg.Projection.ListSandboxes(pf)
	out := make([]*runtimeapi.PodSandboxStats, 0, len(sbs))
	for _, sb := range sbs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out = append(out, c.podStats(ctx, sb))
	}
	c.forget()
	return out, nil
}

// podStats: the containers' stats, and the pod's own figures summed over
// its containers' cgroups and its infra's.
func (c *Collector) podStats(ctx context.Context, sb *projector.Sandbox) *runtimeapi.PodSandboxStats {
	ctrs := c.cfg.Projection.ContainersOf(sb.ID)
	stats := make([]*runtimeapi.ContainerStats, 0, len(ctrs))
	parts := make([]*cgroups.Stats, 0, len(ctrs)+1)
	for _, ctr := range ctrs {
		st, s := c.containerStats(ctx, ctr)
		stats = append(stats, st)
		parts = append(parts, s.cgroup)
	}
	var net *netSample
	if sb.State == projector.SandboxReady {
		infra, err := readCgroup(c.cgroupOf(sb.ID))
		if err != nil {
			c.log.Debug("stats: read the infra's cgroup", "sandbox", sb.ID, "err", err)
		}
		parts = append(parts, infra)
		if net, err = readNet(sb.Pid, sb.NetNSPath); err != nil {
			c.log.Debug("stats: read the pod's network", "sandbox", sb.ID, "err", err)
		}
	}
	agg := sum(parts)
	return podStats(sb, stats, agg, c.swapPrev(podKey(sb.ID), agg), net)
}

// MetricDescriptors describes every metric PodSandboxMetrics returns.
func (c *Collector) MetricDescriptors() []*runtimeapi.MetricDescriptor {
	return descriptors(c.fams)
}

// PodSandboxMetrics is the cAdvisor-style metrics of every sandbox and its
// containers.
func (c *Collector) PodSandboxMetrics(ctx context.Context) ([]*runtimeapi.PodSandboxMetrics, error) {
	now := time.Now()
	fs, err := readLayerFs(c.layerMount())
	if err != nil {
		c.log.Debug("stats: the writable layers' filesystem", "err", err)
	}
	sbs := c.cfg.Projection.ListSandboxes(nil)
	out := make([]*runtimeapi.PodSandboxMetrics, 0, len(sbs))
	for _, sb := range sbs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ctrs := c.cfg.Projection.ContainersOf(sb.ID)
		samples := make([]sample, len(ctrs))
		for i, ctr := range ctrs {
			samples[i] = c.sampleOf(ctx, ctr, true)
		}
		var net *netSample
		if sb.State == projector.SandboxReady {
			if net, err = readNet(sb.Pid, sb.NetNSPath); err != nil {
				c.log.Debug("stats: read the pod's network", "sandbox", sb.ID, "err", err)
			}
		}
		out = append(out, podMetrics(c.fams, sb, net, ctrs, samples, fs, now))
	}
	c.forget()
	return out, nil
}
