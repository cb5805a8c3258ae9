// Package sandbox is the pod sandbox aggregate of logbook's command side:
// RunPodSandbox, StopPodSandbox, RemovePodSandbox and
// UpdatePodSandboxResources, one file each, and the recovery of sandboxes
// after a restart. Reads (PodSandboxStatus, ListPodSandbox) never come
// here: they are projections of the journal (package projector).
//
// # What a sandbox is on the node
//
// A pod sandbox is a set of things that must exist before the pod's
// containers and vanish after them:
//
//	<state>/sandboxes/<id>/         hostname, hosts, resolv.conf (bind-mounted
//	                                into every container), shm/ (a 64 MiB
//	                                tmpfs: the pod's /dev/shm, unless host IPC)
//	<state>/netns/<id>              the pod's network namespace, kept alive by
//	                                a bind mount, loopback up (unless host network)
//	<state>/bundles/<id>/           the infra process's OCI bundle
//	<state>/shims/<id>/             its shim's state (pid file, exit record)
//	<state>/runc/<id>/              runc's state; the cgroup <parent>/<id>
//	<state>/pause/                  the built-in pause's read-only rootfs,
//	                                shared by every pod
//
// The infra process holds the pod's IPC, UTS and PID namespaces and sits in
// its network namespace. It is logbook's own static pause binary
// (cmd/logbook-pause, found next to logbookd), so no image is pulled to run
// a pod; with "pod-sandbox-image" set, that image's rootfs (an overlay, like
// a container's) and command run instead, pulled through the image
// aggregate when absent. The infra runs under a shim like any container,
// so it outlives the daemon too.
//
// # RunPodSandbox
//
//	validate   handler "" or "runc" (else ErrUnknownHandler, NotFound);
//	           the whole infra spec is computed (oci.SandboxSpec: sysctls,
//	           cgroup parent against the driver, seccomp profile read)
//	reserve    the name (metadata name, namespace, uid, attempt): a
//	           duplicate is ErrAlreadyExists
//	journal    sandbox.creating: config, handler, created_at, the netns path
//	           and the cgroup parent — all recovery needs to undo it
//	act        dir; /dev/shm tmpfs; netns + lo up; the network hook
//	           (CNI; nil: loopback only), run while the infra is made;
//	           bundle; shim + runc run --detach (create and start in one
//	           runc); /etc files with the pod's IP
//	journal    sandbox.ready: infra pid and the network result
//
// Nothing is journaled for a request refused in validation. Once the
// intent is journaled, every side effect pushes its undo; on any failure
// the undos run in reverse, sandbox.removed records the reason and the
// name is freed. The sandbox was never visible (Creating is internal to
// the projection), so the client sees nothing but the error.
//
// # StopPodSandbox and RemovePodSandbox
//
// Stop kills every container of the pod at once (Containers.StopAll: each
// exit journaled), then the infra (SIGKILL; its monitor waits for the
// shim's exit and has runc delete it), then journals sandbox.stopped;
// then, for a pod with a network namespace, the network is torn down and
// sandbox.network_torn_down journaled, the namespace removed and /dev/shm
// unmounted. A teardown that fails leaves the pod NotReady with its
// namespace in place and returns the error; the next Stop, Remove or
// daemon start tries again. Stop is idempotent: an unknown ID or a
// stopped pod is success, and a pod that already went through a step
// skips it. Remove stops first if needed, removes every container
// (Containers.RemoveAll), removes the files, journals sandbox.removed and
// frees the name; an unknown ID is success.
//
// An infra process that exits on its own (killed by a user, the OOM
// killer) is noticed by its monitor, a goroutine per sandbox parked on the
// shim's pidfd in the runtime poller; it stops the sandbox as Stop would,
// so the pod becomes NotReady and its containers are killed.
//
// # Locks
//
// Every operation on a sandbox holds its lock (runtime.Locks) exclusively.
// Container operations hold their sandbox's lock shared and their own
// exclusively, so a container is never created in a sandbox being
// stopped. The order is always sandbox, then container: StopAll and
// RemoveAll are called with the sandbox's lock held and take each
// container's. The infra monitor takes no lock to record the exit; a Stop
// waiting for the infra's exit waits on the monitor's done channel, and
// marks the watch as stopping so the monitor does not treat the exit as a
// death. Only a death takes the sandbox lock, after done is closed, so a
// Stop in progress and a monitor never wait for each other.
//
// # Recovery
//
// Recover runs at start, after the container aggregate's Recover (so every
// container is monitored again or has its exit journaled) and before the
// daemon serves. The argument that it can always decide: sandbox.creating
// is journaled before the first side effect and names every path those
// side effects use, so a sandbox still Creating is undone from the journal
// alone (shim killed by its pid file, runc state force-deleted, network
// torn down with no previous result, namespace, mounts and directories
// removed) and closed with sandbox.removed. A Ready sandbox's infra shim is
// found by its pid file (checked against its start time and boot id): if
// alive it is monitored again; if gone, the pod is stopped. A NotReady pod
// whose network_torn_down is missing is torn down again. Finally network
// namespaces and sandbox directories that no live sandbox owns are
// removed; runc state, shims, bundles and cgroups are swept by the
// container aggregate's CleanLeaks, which sees both kinds of IDs.
//
// # Zombies
//
// A shim is started by logbookd and reaped by it (Shim.Wait) while the
// daemon lives. When logbookd dies, its shims are re-parented to the
// nearest child sub-reaper, else to PID 1. On a real node PID 1 (systemd)
// reaps them; on a machine whose PID 1 does not reap, the daemon must run
// under a process that is a sub-reaper and reaps (the e2e tests and the
// conformance harness do), or shims of a dead daemon stay zombies after
// their containers exit. Making logbookd itself a sub-reaper would not
// help: the orphans of a dead daemon are by definition not its own.
package sandbox
