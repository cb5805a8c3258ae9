// Command chaos is logbook's crash-under-churn driver (make chaos): it
// churns pods over the CRI socket of a real logbookd while killing the
// daemon with SIGKILL at random moments, restarts it, and checks after
// every restart that nothing the daemon promised was broken. It prints its
// seed first, a line per round, a summary, and exits non-zero on any
// violation, keeping the run directory (the daemon's log of every start).
//
// # A round
//
// Two workers (-workers) call the daemon at random: RunPodSandbox,
// CreateContainer, StartContainer, ExecSync (whose output and exit code
// are checked), StopContainer, RemoveContainer, StopPodSandbox,
// RemovePodSandbox, on at most -max-pods pods. A worker claims a pod for
// each call, so the model never has to guess the order of two calls on
// one object. Containers are of four kinds: long (sleep until stopped),
// quick (exit with a chosen code a moment after starting), cue (exit with
// a chosen code when the driver writes the FIFO their shell reads) and oom
// (allocate past a 15 MiB limit on cue). After a random load time, some
// cues are given with the daemon up, the daemon is SIGKILLed, and more
// cues are given while it is down: exits and OOM kills the daemon has to
// learn from its shims and cgroups at restart. Then it is started again;
// one round in four it is killed once more while it recovers. Beside the
// pods, two images are pulled and removed now and then: one shares
// busybox's base layer, one shares nothing, so a removal's garbage
// collection must keep the one snapshot and drop the other.
//
// # What is checked after every restart
//
//   - Statuses. Each call's outcome is known (done, refused) or, when the
//     kill cut it, unknown (the driver names every object uniquely, so a
//     pod or container whose creation was cut is found again by name).
//     From that, the model says which states and exits each container may
//     show (model.go, table-tested): the exit code and reason a container
//     chose (Completed for 0, Error otherwise), OOMKilled for the oom
//     kind, 137 or 143 for a stop; never an Unknown exit (no shim is
//     killed here), never a finish before the start, never RUNNING after a
//     stop returned. Statuses are polled for 30 s, since recovery's work
//     and triggered exits land a moment after the start.
//   - Images: one whose pull returned is listed, one whose removal
//     returned is not.
//   - runc agrees with the daemon: a ready pod's infra and every created
//     or running container exist in runc in that state, nothing else does.
//   - `logbook journal verify` passes.
//   - Events: one GetContainerEvents client runs for the whole run and
//     reconnects after every kill with logbook-last-seq. What it received
//     must be exactly the messages the journal yields from its first
//     position to the end (rig.Expected), once each, in order.
//   - Leaks: nothing on the node that no live object owns (rig.Leaks):
//     runc containers, shims, bundles, layers, sandbox directories,
//     network namespaces, mounts, cgroups, veths, IP leases, snapshots.
//
// Any call refused for a reason the model does not foresee is a violation
// too: the driver only asks what must work. At the end every pod is
// removed, everything must be gone, and the daemon must stop cleanly on
// SIGTERM.
package main
