package container

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/runc"
	"github.com/logbook-cri/logbook/runtime/shim"
)

// RollbackReason closes a container whose CreateContainer the daemon did
// not live to finish.
const RollbackReason = "rolled back at start-up: logbookd stopped during CreateContainer"

// Recover reconciles the journal's containers with the node after a
// start. The daemon calls it once, before the sandbox aggregate's Recover
// and before serving:
//
//   - a container still Creating is rolled back (its shim and runc state
//     killed, rootfs unmounted, files removed) and closed with
//     container.removed;
//   - a Created or Running container whose shim is alive is monitored
//     again, as if it had just been created;
//   - one whose shim is gone gets container.exited with the exit the shim
//     recorded (code and time), or, when no record survived (a reboot, a
//     killed shim), exit code 255 and reason Unknown; either way with the
//     OOM verdict read from its cgroup before runc deletes it;
//   - an Exited container that runc still knows is deleted from runc, and
//     its rootfs unmounted;
//   - the names of live containers are reserved again.
func (s *Service) Recover(ctx context.Context) error {
	var errs []error
	_, creating := s.cfg.Projection.Creating()
	for _, c := range creating {
		errs = append(errs, s.rollback(ctx, c))
	}
	for _, c := range s.cfg.Projection.ListContainers(nil) {
		if sb, ok := s.cfg.Projection.Sandbox(c.SandboxID); ok {
			if err := s.cfg.Names.Reserve(runtime.ContainerName(sb.Config.GetMetadata(), c.Config.GetMetadata()), c.ID); err != nil {
				s.log.Error("container name taken twice in the journal", "container", c.ID, "err", err)
			}
		}
		switch c.State {
		case projector.ContainerCreated, projector.ContainerRunning:
			s.reattach(c)
		case projector.ContainerExited:
			if err := s.cfg.Runc.Delete(ctx, c.ID, true); err != nil && !errors.Is(err, runc.ErrNotFound) {
				errs = append(errs, err)
			}
			errs = append(errs, runtime.Unmount(s.cfg.Layout.Rootfs(c.ID)))
		}
	}
	return errors.Join(errs...)
}

// reattach monitors a created or running container again, or journals the
// exit it had while the daemon was away.
func (s *Service) reattach(c *projector.Container) {
	l := s.cfg.Layout
	w := &watch{id: c.ID, sandboxID: c.SandboxID, done: make(chan struct{})}
	var err error
	if w.cg, err = cgroups.LoadRuncState(s.cfg.Runc.Root(), c.ID); err != nil {
		s.log.Debug("the cgroup of a recovered container is unknown", "container", c.ID, "err", err)
	}
	sh, err := runc.OpenShim(c.ID, l.ShimDir(c.ID), s.log)
	if err == nil {
		w.shim = sh
		if c.State == projector.ContainerCreated {
			s.startedWhileAway(w, c)
		}
		s.monitor(w)
		return
	}
	ex, rerr := runc.ReadExit(l.ShimDir(c.ID))
	if rerr == nil {
		s.log.Info("a container exited while logbookd was away", "container", c.ID, "status", ex.Status, "at", ex.At)
		s.finish(w, exitOf(ex))
		return
	}
	if !errors.Is(rerr, shim.ErrNoExit) && !errors.Is(rerr, fs.ErrNotExist) {
		s.log.Warn("read the exit record of a container", "container", c.ID, "err", rerr)
	}
	s.log.Warn("a container's shim is gone without an exit record", "container", c.ID, "err", err)
	s.finish(w, s.orphaned(c.ID, err))
}

// startedWhileAway journals container.started for a container the journal
// says is Created but runc runs: the daemon died between runc start and
// its journal entry. The start time is unknown; the time recovery found it
// running stands in (never after its exit, which comes later).
func (s *Service) startedWhileAway(w *watch, c *projector.Container) {
	ctx, cancel := context.WithTimeout(s.ctx, killWait)
	defer cancel()
	st, err := s.cfg.Runc.State(ctx, c.ID)
	if err != nil || st.Status != "running" {
		return
	}
	s.log.Info("a container was started as logbookd stopped; journaling its start", "container", c.ID)
	if err := s.settle(ctx, c.SandboxID, c.ID, &events.ContainerStarted{Pid: uint32(w.shim.InitPid()), StartedAt: time.Now().UnixNano()}); err != nil {
		s.log.Error("journal the start of a recovered container", "container", c.ID, "err", err)
	}
}

// rollback undoes what a CreateContainer interrupted by a crash made.
func (s *Service) rollback(ctx context.Context, c *projector.Container) error {
	s.log.Info("rolling back an interrupted CreateContainer", "container", c.ID)
	killShimOf(s.cfg.Layout.ShimDir(c.ID))
	cg, cgErr := cgroups.LoadRuncState(s.cfg.Runc.Root(), c.ID)
	if err := s.cfg.Runc.Delete(ctx, c.ID, true); err != nil && !errors.Is(err, runc.ErrNotFound) {
		return err
	}
	if cgErr == nil {
		if err := cg.Remove(); err != nil {
			s.log.Warn("remove the cgroup of a rolled back container", "container", c.ID, "err", err)
		}
	}
	if err := s.removeFiles(c.ID); err != nil {
		return err
	}
	return s.settle(ctx, c.SandboxID, c.ID, &events.ContainerRemoved{Reason: RollbackReason})
}

// killShimOf kills the shim of a state directory (and its process group:
// a runc create it may be running), if it is alive and really that shim.
func killShimOf(stateDir string) {
	id, err := shim.ReadPidFile(stateDir)
	if err != nil || shim.VerifyProcess("/proc", id) != nil {
		return
	}
	unix.Kill(-id.Pid, unix.SIGKILL)
	unix.Kill(id.Pid, unix.SIGKILL)
}

// idRE is the shape of sandbox and container IDs (runtime.NewID).
var idRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// CleanLeaks removes what no live sandbox or container owns: runc
// containers, shims and their state directories, bundles with their rootfs
// mounts, writable layers, and (with the cgroupfs driver) cgroups named
// like an ID under the pods' cgroup parents. The daemon calls it after
// both aggregates recovered, when every live object is known. It removes
// only names shaped like logbook's IDs, so a foreign runc container or
// cgroup sharing the directories is left alone.
func (s *Service) CleanLeaks(ctx context.Context) error {
	l := s.cfg.Layout
	owned := func(id string) bool {
		if _, ok := s.cfg.Projection.Container(id); ok {
			return true
		}
		_, ok := s.cfg.Projection.Sandbox(id)
		return ok
	}
	leaked := func(id string) bool { return idRE.MatchString(id) && !owned(id) }
	var errs []error

	// runc list fails when a container it is listing is deleted under it
	// (a monitor finishing an exit): try again.
	states, err := s.cfg.Runc.List(ctx)
	for i := 0; err != nil && i < 5; i++ {
		time.Sleep(20 * time.Millisecond)
		states, err = s.cfg.Runc.List(ctx)
	}
	if err != nil {
		errs = append(errs, err)
	}
	for _, st := range states {
		if leaked(st.ID) {
			s.log.Info("removing a leaked runc container", "id", st.ID, "status", st.Status)
			killShimOf(l.ShimDir(st.ID))
			if err := s.cfg.Runc.Delete(ctx, st.ID, true); err != nil && !errors.Is(err, runc.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	for _, id := range runtime.DirNames(filepath.Dir(l.ShimDir("x"))) {
		if leaked(id) {
			s.log.Info("removing a leaked shim", "id", id)
			killShimOf(l.ShimDir(id))
			errs = append(errs, runtime.RemoveAll(l.ShimDir(id)))
		}
	}
	for _, id := range runtime.DirNames(filepath.Dir(l.Bundle("x"))) {
		if leaked(id) {
			s.log.Info("removing a leaked bundle", "id", id)
			errs = append(errs, runtime.Unmount(l.Rootfs(id)), runtime.RemoveAll(l.Bundle(id)))
		}
	}
	for _, id := range runtime.DirNames(filepath.Dir(l.ContainerDir("x"))) {
		if leaked(id) {
			s.log.Info("removing a leaked writable layer", "id", id)
			errs = append(errs, runtime.RemoveAll(l.ContainerDir(id)))
		}
	}
	if s.cfg.Host.CgroupDriver != oci.Systemd {
		// The cgroup hierarchy is the node's, shared with other daemons
		// (the default parent too): only IDs this journal has seen are
		// this daemon's to remove. Every object is journaled before its
		// first side effect, so a leak's ID is always known.
		errs = append(errs, s.cleanCgroups(func(id string) bool { return leaked(id) && s.cfg.Projection.IDUsed(id) }))
	}
	return errors.Join(errs...)
}

// cleanCgroups removes the cgroups named like a leaked ID under the
// default cgroup parent and the parents of live sandboxes, in every
// hierarchy.
func (s *Service) cleanCgroups(leaked func(string) bool) error {
	parents := map[string]bool{cgroupParentOf(s.cfg.Host, ""): true}
	for _, sb := range s.cfg.Projection.ListSandboxes(nil) {
		parents[cgroupParentOf(s.cfg.Host, sb.CgroupParent)] = true
	}
	mounts := map[string]cgroups.Mount{}
	for ctrl, m := range s.cfg.Cgroups.V1 {
		mounts[ctrl] = m
	}
	if s.cfg.Cgroups.Unified.Point != "" {
		mounts[""] = s.cfg.Cgroups.Unified
	}
	var errs []error
	for parent := range parents {
		found := map[string]map[string]string{} // id -> controller -> dir
		for ctrl, m := range mounts {
			dir, err := m.Dir(parent)
			if err != nil {
				continue
			}
			for _, id := range runtime.DirNames(dir) {
				if leaked(id) {
					if found[id] == nil {
						found[id] = map[string]string{}
					}
					found[id][ctrl] = filepath.Join(dir, id)
				}
			}
		}
		for id, paths := range found {
			cg, err := cgroups.FromPaths(paths)
			if err != nil {
				continue
			}
			s.log.Info("removing a leaked cgroup", "id", id, "parent", parent)
			errs = append(errs, cg.Remove())
		}
	}
	return errors.Join(errs...)
}

// cgroupParentOf is the cgroupfs path of a pod's cgroup parent.
func cgroupParentOf(h oci.Host, parent string) string {
	if parent == "" {
		parent = h.DefaultCgroupParent
	}
	if parent == "" {
		parent = oci.DefaultCgroupfsParent
	}
	return filepath.Join("/", parent)
}
