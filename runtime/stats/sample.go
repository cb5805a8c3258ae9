package stats

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/cgroups"
	"github.com/logbook-cri/logbook/image"
)

// This file is the thin layer that touches the kernel: it reads what a
// sample is made of (cgroup counters, the writable layer's disk use, the
// processes' descriptors, the pod's interfaces). Everything computed from
// a sample is in cri.go and metrics.go, pure.

// sample is what was read of one container, or of a pod's infra process.
// A nil part could not be read: there is no cgroup (runc has not created
// it, or it is gone with the container), no writable layer, ...
type sample struct {
	cgroup *cgroups.Stats
	layer  *image.Usage
	procs  *procCounts
}

// procCounts are the figures of a cgroup's processes that no cgroup file
// has: open descriptors, sockets among them, threads.
type procCounts struct {
	processes, fds, sockets, threads uint64
}

// layerFs is the filesystem that holds the writable layers, for the
// metrics that describe it.
type layerFs struct {
	device       string // the metrics' device label: the layers' directory
	bytes, avail uint64 // size, and what is left for unprivileged users
	inodes, free uint64
}

// readCgroup samples a cgroup; a cgroup that is gone is nil, not an error.
func readCgroup(cg cgroups.Cgroup) (*cgroups.Stats, error) {
	if cg.IsZero() {
		return nil, nil
	}
	st, err := cgroups.ReadStats(cg)
	if errors.Is(err, cgroups.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// readLayer measures a writable layer (the upper directory of the
// container's overlay); a layer that does not exist is nil.
func readLayer(ctx context.Context, upper string) (*image.Usage, error) {
	if _, err := os.Lstat(upper); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("stats: writable layer: %w", err)
	}
	u, err := image.DiskUsage(ctx, upper)
	if err != nil {
		return nil, fmt.Errorf("stats: writable layer %s: %w", upper, err)
	}
	return &u, nil
}

// readLayerFs reads the filesystem holding the writable layers.
func readLayerFs(dir string) (*layerFs, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, fmt.Errorf("stats: statfs %s: %w", dir, err)
	}
	bs := uint64(st.Bsize)
	return &layerFs{device: dir, bytes: st.Blocks * bs, avail: st.Bavail * bs, inodes: st.Files, free: st.Ffree}, nil
}

// readProcs counts what the processes of a cgroup hold. Processes that
// exit while they are counted are skipped.
func readProcs(cg cgroups.Cgroup) (*procCounts, error) {
	pids, err := cg.Pids()
	if errors.Is(err, cgroups.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pc := &procCounts{processes: uint64(len(pids))}
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid)
		if tasks, err := os.ReadDir(dir + "/task"); err == nil {
			pc.threads += uint64(len(tasks))
		}
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue
		}
		pc.fds += uint64(len(fds))
		for _, fd := range fds {
			if target, err := os.Readlink(dir + "/fd/" + fd.Name()); err == nil && strings.HasPrefix(target, "socket:") {
				pc.sockets++
			}
		}
	}
	return pc, nil
}

// netSample is the interfaces of a pod's network namespace.
type netSample struct {
	at     time.Time
	ifaces []netIface
}

// netIface is one interface's counters, as /proc/net/dev has them.
type netIface struct {
	name                                    string
	rxBytes, rxPackets, rxErrors, rxDropped uint64
	txBytes, txPackets, txErrors, txDropped uint64
}

// readNet reads the interfaces of the network namespace at netnsPath
// through /proc/<pid>/net/dev of a process in it (the pod's infra), which
// costs no setns. The process is checked to be in that namespace (same
// inode), so a pid reused by another process reports nothing rather than
// the wrong figures. A pod without a namespace of its own (host network)
// or without an infra process has no network sample.
func readNet(pid uint32, netnsPath string) (*netSample, error) {
	if pid == 0 || netnsPath == "" {
		return nil, nil
	}
	proc := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	var want, got unix.Stat_t
	if err := unix.Stat(netnsPath, &want); err != nil {
		return nil, nil // torn down
	}
	if err := unix.Stat(proc+"/ns/net", &got); err != nil || got.Ino != want.Ino || got.Dev != want.Dev {
		return nil, nil // the infra process is gone
	}
	now := time.Now()
	data, err := os.ReadFile(proc + "/net/dev")
	if err != nil {
		return nil, nil
	}
	ifaces, err := parseNetDev(data)
	if err != nil {
		return nil, err
	}
	return &netSample{at: now, ifaces: ifaces}, nil
}

// parseNetDev parses /proc/net/dev: two header lines, then one line per
// interface, "name: rx_bytes rx_packets rx_errs rx_drop fifo frame
// compressed multicast tx_bytes tx_packets tx_errs tx_drop ...". The
// loopback interface is left out, as cAdvisor leaves it out: it says
// nothing about the pod's traffic.
func parseNetDev(data []byte) ([]netIface, error) {
	var out []netIface
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 0; sc.Scan(); line++ {
		if line < 2 {
			continue
		}
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			return nil, fmt.Errorf("%w: /proc/net/dev line %q", ErrMalformed, sc.Text())
		}
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if len(f) < 12 {
			return nil, fmt.Errorf("%w: /proc/net/dev: %d fields for %s", ErrMalformed, len(f), name)
		}
		var v [12]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: /proc/net/dev: %s: %v", ErrMalformed, name, err)
			}
			v[i] = n
		}
		if name == "lo" {
			continue
		}
		out = append(out, netIface{
			name:    name,
			rxBytes: v[0], rxPackets: v[1], rxErrors: v[2], rxDropped: v[3],
			txBytes: v[8], txPackets: v[9], txErrors: v[10], txDropped: v[11],
		})
	}
	return out, sc.Err()
}

// upperDir is where a container's writable layer lives: the overlay's
// upper directory under Layout.ContainerDir.
func upperDir(containerDir string) string { return filepath.Join(containerDir, "upper") }
