// Package rig is the test rig of logbook's hardening drivers, make chaos
// (hack/chaos) and make soak (hack/soak): a throwaway logbookd on a node
// of its own making, and the checks that judge it from the outside.
//
// # The world
//
// A World is one run's node: the offline test registry (bin/testimages
// serve, a mirror of every registry the test images come from), a CNI
// network of the run's own (a bridge, a subnet and a host-local data
// directory nobody else uses), a cgroup parent of the run's own under
// which every pod gets its own parent (as a kubelet gives each pod one),
// and logbookd with its root, state and socket in the run's directory.
// The daemon can be started, SIGKILLed and stopped at will; every start
// writes a log of its own (logbookd-N.log), so a violation can be read
// against what the daemon said at the time.
//
// Shims outlive a killed daemon and are re-parented to the nearest child
// sub-reaper; this machine's PID 1 does not reap, so the driver's process
// makes itself one (Reaper) and reaps the orphans that come to it, leaving
// alone the children it started itself and waits for.
// The end-to-end tests (e2e) use the same Reaper.
//
// # Judging from the outside
//
// Everything the rig checks it reads where an operator would: the CRI
// (lists and statuses), `logbook journal verify` run as a command, the
// journal read back over the daemon's socket (journal/remote), runc's own
// state directory, /proc, the mount table, the cgroup hierarchy, netlink,
// the host-local lease files, the image store's directories. Nothing is
// asked of the daemon's internals, so a bug that makes the daemon lie
// about its own state cannot hide itself.
//
// Leaks lists what is on the node that no live object of the journal
// owns: runc containers, shim processes and directories, bundles,
// writable layers, sandbox directories and network namespaces, mounts
// under the root and state, cgroups (of objects that do not run), veths
// on the bridge, IP leases, and image snapshots no listed image uses. A
// leak check is polled until it holds or a deadline passes, since a
// container exiting as the check runs is cleaned up a moment later.
//
// # Events: exactly once, in order
//
// A Follower is a GetContainerEvents client that never gives up: when its
// stream ends (the daemon was killed) it reconnects with the
// logbook-last-seq metadata, as the README tells a client to, and carries
// on. Expected computes, from the journal itself (read over the socket,
// folded with package projector), the messages a client that started at a
// position must have received up to another; Compare lists every message
// missing, duplicated, out of order or different. A follower can start
// stalled (its stream open, nothing read) and be resumed later: the
// subscriber that holds up nothing and loses nothing.
package rig
