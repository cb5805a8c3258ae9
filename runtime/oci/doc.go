// Package oci turns CRI requests into OCI runtime specs (config.json) for
// runc: SandboxSpec for a pod's infra process, ContainerSpec for a workload
// container.
//
// # Pure by construction
//
// The package does no I/O at all. Everything the node or the image would
// tell is an input: Host carries the facts the daemon detects once (cgroup
// driver and version, swap accounting, AppArmor, kernel release, host
// devices, the oom_score_adj restriction); ContainerInput carries what the
// runtime resolved for one request (the image config and its /etc/passwd
// and /etc/group as bytes, the symlink-free source of every mount, the
// device nodes behind every CRI device, the pod's namespace paths and
// files, the content of Localhost seccomp profiles). So every rule below is
// a table test away from being checked, the same request always gives the
// same spec, and the runtime's thin I/O layer (stat, readlink, reading a
// profile) stays apart from the policy. Even moby's seccomp helper, which
// asks uname for the kernel version, is not called: its default profile is
// taken as data and specialised here against Host.
//
// # The specs target runc 1.1.5
//
// ociVersion is 1.0.2, what runc 1.1.5 implements; only fields it knows are
// set, plus the "rro" mount option it added. What runc would refuse at
// start (a mount over /proc, an unknown seccomp action or architecture) is
// refused here at create, where the client gets a precise error.
//
// # Errors
//
// Refusals wrap ErrInvalid (the request is wrong: InvalidArgument) or
// ErrUnsupported (right but not doable here: Unimplemented), and name the
// offending field in the request's own terms, e.g.
// "mounts[2].container_path" or "linux.sysctls". ErrBadInput marks facts the
// caller should have provided and did not: a logbook bug (Internal).
//
// # The infra process
//
// A pod's namespaces are held by a tiny pause process in a read-only
// rootfs. It creates the pod's IPC, UTS and PID namespaces (those not
// shared with the node), enters the network namespace the runtime made for
// CNI, and carries the pod's hostname and sysctls. Only namespaced sysctls
// are accepted (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* in the
// IPC namespace, net.* in the network one), and none for a namespace the
// pod shares with the host, since that would reconfigure the node. Pause
// runs with no capabilities and no_new_privs: it only waits and reaps. It
// runs as root unless the pod says run_as_user, because the built-in rootfs
// has no /etc/passwd to name anyone else and root without capabilities in
// its own namespaces can do nothing pause does not. Its oom_score_adj is
// -998, as kubelets expect of pod infrastructure, raised to
// Host.MinOOMScoreAdj when the daemon cannot lower scores; its cpu shares
// are 2 unless the pod overhead says otherwise, and the overhead is its
// cgroup's limit. A host-network pod keeps the host's UTS namespace too, so
// it has no hostname of its own.
//
// # Containers: what merges with what
//
// Process. command replaces the image's ENTRYPOINT and drops its CMD; args
// replace CMD; the process runs ENTRYPOINT+CMD after those replacements
// (Docker's rules, which kubelets assume). The environment is layered, each
// layer overriding earlier ones key by key in place: a default PATH, then
// HOSTNAME (the pod's hostname, or the node's for a host-network pod
// without one), then the image's ENV, then the request's envs. The working
// directory is the request's, else the image's WORKDIR, else "/".
//
// User. run_as_username (which must be in the image's /etc/passwd) or
// run_as_user replace the image's USER entirely; otherwise USER is "uid",
// "name", "uid:gid" or "name:group", names resolved through the image's
// files. run_as_group overrides the primary group and needs a user. Under
// SupplementalGroupsPolicy Merge the groups of /etc/group that list the
// user by name join the requested supplemental groups; under Strict only
// the requested ones count. The primary gid is always among the groups, as
// `id -G` and ContainerStatus.user show them, sorted.
//
// Namespaces. A container enters the pod's network, UTS and IPC namespaces
// by path, or none for NODE (the host's), and its mode must match the
// pod's. Its PID namespace is the pod's (POD), its own (CONTAINER), the
// host's (NODE) or another container's (TARGET). A container in the pod's
// UTS namespace carries the pod's hostname. User namespaces are not
// supported.
//
// Mounts. The default filesystems come first: /proc, a /dev tmpfs,
// /dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup, the last two
// read-only unless privileged. A requested mount on the same destination
// replaces a default one, and a requested /dev replaces everything under
// it. Then come the requested mounts and the pod's shared files, sorted by
// depth so parents are mounted before children: /dev/shm (the pod's tmpfs,
// or the host's with host IPC), /etc/hostname, /etc/hosts and
// /etc/resolv.conf, each skipped when a requested mount covers it (same
// path or a parent) and read-only when the rootfs is. Requested mounts are
// recursive binds; PRIVATE, HOST_TO_CONTAINER and BIDIRECTIONAL propagation
// become rprivate, rslave and rshared, and the rootfs becomes rshared or
// rslave to match (runc's default is fine for private). readonly is "ro",
// which covers the top mount only, and recursive_read_only is "rro", which
// needs readonly and PRIVATE propagation, and a host whose kernel has
// mount_setattr. A destination must be absolute, free of "..", not the root
// and not inside /proc; runc resolves symlinks inside the rootfs itself
// when it mounts, so a valid destination cannot escape it.
//
// Privilege. Unprivileged containers get containerd's default capability
// set (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID,
// SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE: no
// NET_ADMIN, no SYS_ADMIN), edited in this order: add ALL, drop ALL, each
// add, each drop, so a drop always wins and "drop ALL, add X" is exactly X.
// Ambient additions join every set. containerd's masked and read-only /proc
// and /sys paths apply unless the request lists its own. A privileged
// container (allowed only in a privileged pod) gets every capability, every
// host device, a device cgroup that allows all, writable /sys and
// /sys/fs/cgroup, no masked or read-only paths, and no seccomp or AppArmor
// confinement whatever was asked.
//
// Seccomp. The SecurityProfile field wins over the deprecated
// seccomp_profile_path. RuntimeDefault (the field's zero value,
// "runtime/default" or "docker/default") is moby's default profile,
// specialised for Host's architecture and kernel and for the container's
// bounding capabilities (holders of SYS_ADMIN may mount, and so on).
// Localhost profiles are in Docker's JSON format, possibly without
// "architectures" (then the native one only). Nothing at all, or
// "unconfined", means unconfined: the CRI's documented default (kubelets
// ask for RuntimeDefault explicitly when a pod wants it).
//
// AppArmor. The apparmor field wins over apparmor_profile. Without AppArmor
// on the host, unconfined and runtime/default mean no profile and a named
// profile is unsupported; with it, runtime/default is
// Host.AppArmorDefaultProfile.
//
// Resources. CPU shares, quota and period, cpusets, memory and hugepage
// limits pass through; memory_swap_limit_in_bytes is memory+swap (cgroup v1
// semantics, which runc translates for v2) and defaults to the memory limit
// so a container swaps only if asked, and is left out on hosts without swap
// accounting. unified resources need cgroup v2. Host.PidsLimit caps tasks.
// oom_score_adj is clamped like the infra process's.
//
// Cgroups. With cgroupfs a container's cgroup is "<pod cgroup_parent>/<id>"
// (a default parent when the pod names none); with systemd it is
// "<slice>:logbook:<id>". A ".slice" parent with cgroupfs, or a parent that
// is not a slice with systemd, is refused rather than guessed at.
//
// Annotations. Specs carry containerd's io.kubernetes.cri.* annotations
// (container type, sandbox id, name, namespace, uid, container and image
// names) for hooks and plugins that read bundles. The request's own
// annotations are not copied: the CRI says they must not steer the runtime.
package oci
