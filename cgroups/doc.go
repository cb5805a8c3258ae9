// Package cgroups is logbook's host-side knowledge of control groups: what
// the host offers, where a container's cgroup is, what it has used, and how
// to get rid of it. It creates no container cgroups and writes no limits:
// runc does both, from the linux.cgroupsPath and resources that runtime/oci
// puts in the spec. This package reads what runc made.
//
// # The host
//
// Detect reads /proc/self/mountinfo and classifies the host. On cgroup v1
// every controller is its own hierarchy, mounted at its own directory
// (/sys/fs/cgroup/memory, or co-mounted as /sys/fs/cgroup/cpu,cpuacct);
// on v2 (unified) one hierarchy holds every controller; a hybrid host
// mounts v1 hierarchies plus a cgroup2 filesystem, usually at
// /sys/fs/cgroup/unified, that holds few controllers or none. Host records
// each mount with the cgroup it shows (its root, which is not "/" inside a
// cgroup namespace), the controllers a container can use, whether swap is
// accounted (memsw files on v1, memory.swap files on v2), the huge page
// sizes, and whether systemd is init. The last decides the driver:
// "systemd-cgroup": true makes runc ask systemd for scopes, which cannot
// work without systemd, so SelectDriver refuses it with an error naming
// the key to change rather than letting every container fail later.
//
// The detection is a pure function of a filesystem (os.DirFS("/") in
// production, an fstest.MapFS in tests), so every layout is table-tested.
//
// # A container's cgroup
//
// Cgroup is a value holding paths only: one directory per v1 controller,
// and the cgroup2 directory. Nothing assumes that one relative path serves
// every controller; on logbook's own test host the daemon's memory cgroup
// is nested (/process_api/<id>) while its other controllers are at the
// root. The paths come from where they are known for certain: runc's
// state.json (cgroup_paths, FromRuncState), or a live process's
// /proc/<pid>/cgroup mapped through the mounts (Host.FromPid; parsing by
// containerd/cgroups). Because the value survives the processes, recovery
// can record it, find the cgroup again after a crash, read its last OOM
// count and Remove it. On a hybrid host runc creates a directory in the
// controller-less cgroup2 mount as well; Remove removes it with the rest,
// and hugetlb, often the one controller such a host leaves to cgroup2, is
// read from there.
//
// Remove is rmdir of every directory, children first, tolerating the ones
// already gone, retrying briefly while the kernel still counts a just-reaped
// task, and trying every directory even when one fails.
//
// # Stats
//
// ReadStats reads a fixed set of interface files into a map and computes a
// Stats from it: the reading is a thin loop, the computing is pure and
// table-tested on files copied from real hierarchies (testdata/). The
// containerd/cgroups stat readers are not used here because they fold
// states CRI must tell apart into zero: v1 "max" reads as 0, a missing v2
// file reads as 0 (so "no swap accounting" looks like "swap limit 0"), and
// huge page sizes are taken from the host once rather than from the cgroup.
//
// The two versions name the same things differently, and Stats gives them
// one meaning:
//
//   - CPU: v1 splits usage (cpuacct.usage, usage_user/usage_sys in ns, or
//     cpuacct.stat in USER_HZ ticks on old kernels) from throttling
//     (cpu.stat); v2 has one cpu.stat in microseconds.
//   - Memory: v1 memory.stat's total_* lines include child cgroups as
//     memory.usage_in_bytes does; v2's memory.stat is hierarchical and
//     calls rss "anon" and cache "file". The working set is usage minus
//     inactive file pages, floored at zero, as cAdvisor computes it.
//   - Swap is swap alone. v1 only counts memory+swap (memsw), so swap
//     usage is memsw usage minus memory usage and the swap limit is the
//     memsw limit minus the memory limit; v2 has memory.swap.current and
//     memory.swap.max. A limit is reported only where one exists (Limit's
//     zero value is "none"), and Swap.Accounted says whether the kernel
//     counts swap at all.
//   - "No limit" is "max" on v2 and the page counter's maximum
//     (0x7FFFFFFFFFFFF000 with 4 KiB pages) on v1.
//   - OOM kills: v1 counts them in memory.oom_control (oom_kill, from
//     kernel 4.13); v2 in memory.events as oom_kill plus oom_group_kill.
//     v2's "oom" line counts OOM situations, which may end without a
//     kill, and is never used.
//
// NanoCores turns two samples into CRI's usage_nano_cores.
//
// # Why the OOM counter is read before removal
//
// The kernel tells user space of an OOM kill through an event (see package
// oom), and separately the container's init exits with SIGKILL. The two
// race: the exit can be handled before the event is, or the daemon can be
// down for both. The counter in the cgroup is the one record that cannot
// be missed, but it dies with the cgroup. So the runtime's exit path reads
// OOMKills (one small file) before anything removes the cgroup, and a
// container whose cgroup counted a kill is reported OOMKilled whatever
// happened to the event. That is brief invariant 7.
package cgroups
