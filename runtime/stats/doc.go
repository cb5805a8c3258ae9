// Package stats answers the CRI's stats and metrics calls: ContainerStats,
// PodSandboxStats, their List and Stream forms, ListMetricDescriptors and
// ListPodSandboxMetrics. It is a reader. It decides nothing about any
// container and writes nothing to the journal: which containers and pods
// exist, their names, labels, states and requested resources come from the
// live projection; what they use comes from the kernel.
//
// # Where the figures come from
//
//   - CPU, memory, swap, OOM kills, processes, block I/O, huge pages: the
//     container's cgroup, located through runc's state.json
//     (cgroups.LoadRuncState under Layout.RuncRoot; read once per
//     container, remembered until the container is gone) and read with
//     cgroups.ReadStats, which gives both cgroup versions one meaning.
//     Swap is swap alone, with available bytes only where a swap limit
//     exists; memory's available bytes likewise only under a limit.
//   - usage_nano_cores: a rate, so it needs two samples. The collector
//     keeps the previous sample of each container and pod and reports the
//     rate since it (cgroups.NanoCores); the first sample of a container
//     has none.
//   - The writable layer: the overlay's upper directory under
//     Layout.ContainerDir, measured with image.DiskUsage (allocated bytes,
//     inodes counted once), identified by the directory of the layers, the
//     filesystem ImageFsInfo's container_filesystems names.
//   - A pod: its containers' stats, and its own CPU, memory and process
//     figures summed over its containers' cgroups and its infra's
//     (runc ID = sandbox ID). A sum has no limit, so a pod reports no
//     available bytes. The network comes from the pod's namespace,
//     through /proc/<infra pid>/net/dev after checking that the infra
//     process still lives in the namespace the journal names, so a reused
//     pid reports nothing rather than another pod's traffic; loopback is
//     left out.
//   - Metrics add what no cgroup file has: descriptors, sockets and
//     threads of the cgroup's processes (/proc/<pid>/fd, /task), the
//     layers' filesystem (statfs), the spec (the container's resources as
//     the projection has them), start time and last seen.
//
// # Report what can be read
//
// A container that has no cgroup (created and not yet known to runc,
// exited and deleted) or whose cgroup vanishes while it is measured is
// reported with what there is: its attributes and writable layer, and no
// CPU or memory figures rather than zeros that would be a claim. A list
// never fails because one of its containers ended under it.
//
// # Metrics
//
// metrics.go is one table of families in cAdvisor's names, types and
// labels (container_cpu_usage_seconds_total, container_memory_working_set_bytes,
// container_memory_swap, container_oom_events_total, the network and
// filesystem families, ...): a descriptor and a pure function from a
// sample to values each. Every value carries the base labels (pod,
// namespace, container, id, image) then its family's own, so the number
// of label values always equals the number of label keys of its
// descriptor. The network families are the pod's (container "POD"). The
// CRI carries metric values as unsigned integers, so the seconds families
// are whole seconds.
//
// # Compute, then act
//
// sample.go reads (cgroups, directories, /proc); cri.go and metrics.go
// compute the CRI messages from what was read and are tested without
// root on hand-made samples. The reading is tested against real cgroups.
package stats
