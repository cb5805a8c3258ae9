// Package container is the container aggregate of logbook's command side:
// CreateContainer, StartContainer, StopContainer, RemoveContainer,
// UpdateContainerResources and ReopenContainerLog, one file each, the
// exit monitor, and the recovery of containers after a restart. Statuses
// and lists are projections of the journal (package projector) and never
// come here.
//
// # What a container is on the node
//
//	<root>/containers/<id>/{upper,work}   the writable layer
//	<state>/bundles/<id>/config.json      the OCI spec
//	<state>/bundles/<id>/rootfs           overlay: image snapshots + upper
//	<state>/shims/<id>/                   the shim: pid file, exit record, socket
//	<state>/runc/<id>/                    runc's state; cgroup <pod parent>/<id>
//	<pod log_directory>/<log_path>        the CRI log, written by the shim
//
// # The state machine, operation by operation
//
//	CreateContainer   (absent) -> creating -> created      (or -> removed: rolled back)
//	StartContainer    created -> running                   (or -> exited 128 StartError)
//	the exit monitor  created|running -> exited            (its real status and time)
//	StopContainer     created|running -> exited            (exited: nothing to do)
//	RemoveContainer   * -> removed                         (running: killed first)
//
// CreateContainer validates everything it can without side effects (the
// sandbox Ready, the image present, the log path inside the pod's log
// directory, the mounts' host paths and their propagation against the
// host's mount table, devices, the seccomp profile, the stop signal, and
// the whole spec as a dry run), so a bad request journals nothing. It
// then reserves the name, journals container.creating (everything
// ContainerStatus reports that is fixed at creation, and all recovery
// needs), mounts the overlay rootfs, reads the image's /etc/passwd and
// /etc/group from it with openat2(RESOLVE_IN_ROOT) so no symlink in the
// image reaches the host, creates missing host paths, writes the spec, and
// has runc create the container under its shim (stdin, tty and the log
// path go to the shim). container.created records the init pid and the
// user resolved in the rootfs. Any failure undoes the steps in reverse and
// journals container.removed with the reason.
//
// Paths a client names are checked against what the host holds, and
// checked again where they are used. The log path may not pass through a
// symlink below the pod's log directory; the shim gets it resolved and
// opens it with RESOLVE_NO_SYMLINKS, so a link planted later (before a
// ReopenContainerLog) fails the open instead of redirecting the log. A
// mount's host path is resolved (its symlinks followed: the container sees
// the target) and the file it names is remembered by device and inode;
// runc mounts by path, so once runc has created the container, and before
// anything of the image runs, each mount is looked up inside it and must
// be that same file, else the creation fails with ErrMountChanged and is
// rolled back.
//
// StopContainer sends the stop signal (the request's, the image's
// STOPSIGNAL, else SIGTERM) to the init, waits up to the timeout, then
// SIGKILLs every process of the container (a timeout of 0, or a container
// never started, is killed at once) and returns once the exit is
// journaled. RemoveContainer stops what runs, then unmounts and removes
// the files (the log stays: it is the kubelet's) and journals
// container.removed. Both are idempotent, and an unknown ID is success.
//
// # The exit monitor
//
// Every container with a live shim has a monitor: a goroutine blocked in
// Shim.Wait, a read on the shim's pidfd registered with the runtime's
// netpoller, so a parked monitor holds no OS thread. When the shim exits
// (after recording the container's exit durably), the monitor reads the
// cgroup's OOM kill counter before anything can remove the cgroup, journals
// container.exited with the shim's exit status and time and the reason
// (OOMKilled when the counter, or the OOM watcher, saw a kill; Completed
// for 0; Error otherwise), then has runc delete the container, which
// removes the cgroup, and unmounts its rootfs (the writable layer stays
// until removal): a node with many exited containers carries no mount for
// each, which every new container's mount namespace would copy. The OOM watcher (package oom, one goroutine for all
// containers) journals container.oom as kills happen.
//
// # Locks, and who journals what
//
// Operations hold the sandbox's lock shared and the container's exclusively
// (runtime.Locks; always in that order). The monitor takes neither: Stop
// and Remove hold the container's lock while they wait for the exit, so a
// monitor that needed it would deadlock them. Instead each container's
// watch has a small mutex that orders the two events not tied to one call:
// StartContainer holds it across runc start and container.started, and
// the monitor takes it to journal container.exited. So an exit is never
// journaled before the start that preceded it, and the exited flag under
// the same mutex keeps a failed start's exit (StartError) and the
// monitor's from both being journaled. Stop and Remove wait on the watch's
// done channel, closed once the exit is journaled and runc has forgotten
// the container; the watch leaves the map only after that, so whoever
// finds no watch knows the exit is complete.
//
// # Recovery
//
// Recover runs once at start, before the sandbox aggregate's, with the
// projection rebuilt from the journal. container.creating is journaled
// before the first side effect and fixes every path those effects use,
// so a container still Creating is undone from the journal alone: its
// shim killed by its pid file (verified by start time and boot id), runc's
// state force-deleted, cgroup, rootfs mount and files removed, and
// container.removed journaled. A Created or Running container's shim is
// found again by its pid file: alive, it gets a monitor as if just
// created; gone, the exit file it wrote (durably, before exiting) gives
// the real exit code and time; gone without one (a reboot, a killed
// shim), what still runs is killed and the exit is journaled with code
// 255, reason Unknown and a message. Either way the OOM counter is read
// before runc deletes the cgroup. Exited containers that runc still knows
// are deleted from it. Names are reserved again.
//
// CleanLeaks then removes what no live sandbox or container owns — runc
// containers, shims, bundles and their rootfs mounts, writable layers,
// and (cgroupfs) cgroups under the pods' parents — judging by names shaped
// like logbook's IDs only. Together with the sandbox aggregate's scan of
// network namespaces and sandbox directories, after a crash at any
// instruction nothing of a removed object survives a restart.
package container
