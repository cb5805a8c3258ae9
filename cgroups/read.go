package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ReadStats samples the counters of c. It reads a fixed set of interface
// files (see v1Files and v2Files) and computes the sample from them; a file
// the kernel does not offer leaves its figures zero. ErrNotExist means the
// cgroup was removed.
func ReadStats(c Cgroup) (Stats, error) {
	if c.IsZero() {
		return Stats{}, fmt.Errorf("%w: empty cgroup", ErrInvalidPath)
	}
	now := time.Now()
	f := files{}
	var compute func(files) (Stats, error)
	if c.IsV2() {
		compute = statsV2
		if err := readFiles(f, c.Unified, v2Files()); err != nil {
			return Stats{}, err
		}
	} else {
		compute = statsV1
		for ctrl, dir := range c.V1 {
			if err := readFiles(f, dir, v1Files(ctrl)); err != nil {
				return Stats{}, err
			}
		}
	}
	// hugetlb lives in its v1 hierarchy, or on a hybrid host possibly in
	// the cgroup2 directory (the one controller such hosts often leave
	// there).
	hugetlbDir, ok := c.Dir("hugetlb")
	if !ok {
		hugetlbDir = c.Unified
	}
	if hugetlbDir != "" {
		if err := readHugetlb(f, hugetlbDir); err != nil {
			return Stats{}, err
		}
	}
	s, err := compute(f)
	if err != nil {
		return Stats{}, fmt.Errorf("cgroups: stats of %v: %w", c.Dirs(), err)
	}
	s.Timestamp = now
	return s, nil
}

// OOMKills reads the OOM kill counter of c alone: one small file, cheap
// enough for the exit path, which reads it before the cgroup is removed so
// that an OOM kill is reported even when the kernel's notification raced
// the exit (v1: oom_kill of memory.oom_control; v2: oom_kill +
// oom_group_kill of memory.events).
func OOMKills(c Cgroup) (uint64, error) {
	dir, ok := c.Dir("memory")
	if !ok {
		return 0, fmt.Errorf("%w: memory", ErrNoController)
	}
	if c.IsV2() {
		data, err := readFile(dir, "memory.events")
		if err != nil {
			return 0, err
		}
		if data == nil {
			return 0, fmt.Errorf("%w: memory (not enabled in %s)", ErrNoController, dir)
		}
		return oomKillsV2(data)
	}
	data, err := readFile(dir, "memory.oom_control")
	if err != nil {
		return 0, err
	}
	if data == nil {
		return 0, fmt.Errorf("%w: %s has no memory.oom_control", ErrMalformed, dir)
	}
	return oomKillsV1(data)
}

// readFiles reads into f, for each list of alternatives, the first file of
// dir that exists.
func readFiles(f files, dir string, wanted [][]string) error {
	for _, alternatives := range wanted {
		for _, name := range alternatives {
			data, err := readFile(dir, name)
			if err != nil {
				return err
			}
			if data != nil {
				f[name] = data
				break
			}
		}
	}
	return nil
}

// readHugetlb reads the hugetlb usage, limit and failure files of dir.
func readHugetlb(f files, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if isNotExist(err) {
			return fmt.Errorf("%w: %s: %w", ErrNotExist, dir, err)
		}
		return fmt.Errorf("cgroups: %w", err)
	}
	var names [][]string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "hugetlb.")
		if !ok {
			continue
		}
		_, attr, _ := strings.Cut(rest, ".")
		switch attr {
		case "usage_in_bytes", "max_usage_in_bytes", "limit_in_bytes", "failcnt", "current", "max", "events":
			names = append(names, []string{e.Name()})
		}
	}
	return readFiles(f, dir, names)
}

// readFile returns the contents of dir/name, or nil when the cgroup has no
// such file. When dir itself is gone the cgroup was removed: ErrNotExist.
//
// It reads with bare syscalls: os.ReadFile's stat and poller registration
// triple the cost of a cgroupfs read, and a sample reads some twenty files.
func readFile(dir, name string) ([]byte, error) {
	p := filepath.Join(dir, name)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, absent(dir, p, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, absent(dir, p, err)
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// absent classifies a failed read: a missing file is (nil, nil) while its
// cgroup is there, ErrNotExist when the cgroup is gone.
func absent(dir, p string, err error) error {
	if !isNotExist(err) {
		return fmt.Errorf("cgroups: read %s: %w", p, err)
	}
	if _, serr := os.Lstat(dir); serr != nil {
		return fmt.Errorf("%w: %s: %w", ErrNotExist, dir, serr)
	}
	return nil
}
