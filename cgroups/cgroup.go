package cgroups

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	cgroupsv3 "github.com/containerd/cgroups/v3"
)

// Cgroup locates one container's (or pod's) cgroup: the directory of each
// v1 controller, and the cgroup2 directory. It is a plain value that holds
// only paths, so it can be recorded and used again after the processes in
// it, or the daemon that found it, are gone.
//
// On a unified host only Unified is set. On a hybrid host runc also creates
// a directory in the controller-less cgroup2 mount, so both are set: the
// controllers are read from V1, and Remove removes every directory.
type Cgroup struct {
	// V1 maps a v1 controller ("memory", "cpu", "name=systemd") to its
	// directory. Co-mounted controllers map to the same directory.
	V1 map[string]string `json:"v1,omitempty"`
	// Unified is the cgroup2 directory, or "".
	Unified string `json:"unified,omitempty"`
}

// FromPaths builds a Cgroup from paths in runc's format: controller name to
// absolute directory, with the key "" for the cgroup2 directory.
func FromPaths(paths map[string]string) (Cgroup, error) {
	var c Cgroup
	for ctrl, dir := range paths {
		if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
			return Cgroup{}, fmt.Errorf("%w: %s: %q is not an absolute clean path", ErrInvalidPath, ctrl, dir)
		}
		if ctrl == "" {
			c.Unified = dir
			continue
		}
		if c.V1 == nil {
			c.V1 = map[string]string{}
		}
		c.V1[ctrl] = dir
	}
	if c.IsZero() {
		return Cgroup{}, fmt.Errorf("%w: no cgroup directory", ErrInvalidPath)
	}
	return c, nil
}

// Paths returns the cgroup in runc's format (see FromPaths).
func (c Cgroup) Paths() map[string]string {
	p := maps.Clone(c.V1)
	if p == nil {
		p = map[string]string{}
	}
	if c.Unified != "" {
		p[""] = c.Unified
	}
	return p
}

// IsZero reports whether c locates nothing.
func (c Cgroup) IsZero() bool { return len(c.V1) == 0 && c.Unified == "" }

// IsV2 reports whether c is a cgroup v2 cgroup: its controllers live in
// the unified directory.
func (c Cgroup) IsV2() bool { return len(c.V1) == 0 && c.Unified != "" }

// Dir returns the directory holding controller's files.
func (c Cgroup) Dir(controller string) (string, bool) {
	if c.IsV2() {
		return c.Unified, true
	}
	d, ok := c.V1[controller]
	return d, ok
}

// Dirs returns every distinct directory of c, sorted.
func (c Cgroup) Dirs() []string {
	dirs := slices.Collect(maps.Values(c.V1))
	if c.Unified != "" {
		dirs = append(dirs, c.Unified)
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// runcState is the part of runc's state.json (libcontainer.State) that
// locates the container's cgroup.
type runcState struct {
	CgroupPaths map[string]string `json:"cgroup_paths"`
}

// FromRuncState locates a container's cgroup from the contents of runc's
// <root>/<id>/state.json, whose cgroup_paths lists the directories runc
// really created (per controller on v1, "" for cgroup2).
func FromRuncState(stateJSON []byte) (Cgroup, error) {
	var st runcState
	if err := json.Unmarshal(stateJSON, &st); err != nil {
		return Cgroup{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	if len(st.CgroupPaths) == 0 {
		return Cgroup{}, fmt.Errorf("%w: no cgroup_paths", ErrInvalidState)
	}
	c, err := FromPaths(st.CgroupPaths)
	if err != nil {
		return Cgroup{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	return c, nil
}

// LoadRuncState reads runc's state.json for container id under runc's
// --root directory and locates its cgroup.
func LoadRuncState(runcRoot, id string) (Cgroup, error) {
	data, err := os.ReadFile(filepath.Join(runcRoot, id, "state.json"))
	if err != nil {
		return Cgroup{}, fmt.Errorf("cgroups: %w", err)
	}
	return FromRuncState(data)
}

// FromPid locates the cgroup a live process is in, from /proc/<pid>/cgroup
// and the mounts h knows. Only controllers mounted on the host are kept.
func (h Host) FromPid(pid int) (Cgroup, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return Cgroup{}, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	return h.resolve(f)
}

// resolve maps a /proc/<pid>/cgroup listing onto h's mounts.
func (h Host) resolve(r io.Reader) (Cgroup, error) {
	v1, unified, err := cgroupsv3.ParseCgroupFromReaderUnified(r)
	if err != nil {
		return Cgroup{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	paths := map[string]string{}
	for ctrl, p := range v1 {
		m, ok := h.V1[ctrl]
		if !ok {
			continue
		}
		dir, err := m.Dir(p)
		if err != nil {
			return Cgroup{}, err
		}
		paths[ctrl] = dir
	}
	if unified != "" && h.Unified.Point != "" {
		dir, err := h.Unified.Dir(unified)
		if err != nil {
			return Cgroup{}, err
		}
		paths[""] = dir
	}
	return FromPaths(paths)
}

// Exists reports whether any directory of c is still there, that is,
// whether Remove still has something to do.
func (c Cgroup) Exists() bool {
	for _, d := range c.Dirs() {
		if _, err := os.Lstat(d); err == nil {
			return true
		}
	}
	return false
}

// Remove removes every directory of c, child cgroups first. Directories
// already gone are not an error, so recovery can call it on any leak. A
// directory that still holds processes is retried for up to about 300ms (a
// killed task leaves its cgroup only once it is reaped, which may be a
// moment after the kill), then reported as ErrBusy. Every directory is
// attempted even when one fails.
func (c Cgroup) Remove() error {
	var final []error
	pending := c.Dirs()
	for delay := 10 * time.Millisecond; ; delay *= 2 {
		var busy []string
		var busyErrs []error
		for _, d := range pending {
			switch err := removeTree(d); {
			case err == nil:
			case errors.Is(err, ErrBusy):
				busy = append(busy, d)
				busyErrs = append(busyErrs, err)
			default:
				final = append(final, err)
			}
		}
		if len(busy) == 0 || delay > 160*time.Millisecond {
			return errors.Join(append(final, busyErrs...)...)
		}
		pending = busy
		time.Sleep(delay)
	}
}

// removeTree removes the cgroup directory dir and its child cgroups,
// deepest first. cgroupfs directories hold only interface files, which
// rmdir takes away with the directory.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("cgroups: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return rmdir(dir)
}

// rmdir removes one empty cgroup directory; EBUSY (tasks still in it) is
// ErrBusy.
func rmdir(dir string) error {
	switch err := syscall.Rmdir(dir); {
	case err == nil || errors.Is(err, syscall.ENOENT):
		return nil
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("%w: rmdir %s: %w", ErrBusy, dir, err)
	default:
		return fmt.Errorf("cgroups: rmdir %s: %w", dir, err)
	}
}

// Pids lists, sorted, the processes in c and in its child cgroups, over
// every controller (v1 controllers normally agree, but a leak may not).
func (c Cgroup) Pids() ([]int, error) {
	seen := map[int]bool{}
	found := false
	for _, d := range c.Dirs() {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if isNotExist(err) {
					return nil // a child removed while walking
				}
				return err
			}
			if !e.IsDir() {
				return nil
			}
			found = true
			data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			if err != nil {
				if isNotExist(err) {
					return fs.SkipDir
				}
				return err
			}
			pids, err := parsePids(data)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			for _, pid := range pids {
				seen[pid] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cgroups: list pids: %w", err)
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: %v", ErrNotExist, c.Dirs())
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// parsePids parses a cgroup.procs file: one pid a line.
func parsePids(data []byte) ([]int, error) {
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		pid, err := strconv.Atoi(line)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%w: cgroup.procs line %q", ErrMalformed, line)
		}
		pids = append(pids, pid)
	}
	return pids, sc.Err()
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV)
}
