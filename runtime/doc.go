// Package runtime is the command side of logbook: what every CRI operation
// that changes something does. This package holds what the aggregates share;
// the operations themselves live in one package per aggregate, one operation
// a file: runtime/sandbox (pod sandboxes), runtime/container (containers),
// runtime/images (images). Reads never come here: statuses and lists are
// projections (package projector).
//
// # The shape of a command
//
// Every command follows the same steps, in this order, so that recovery can
// always decide what happened (brief invariant 4):
//
//  1. Lock the object (Locks: per-ID reader/writer locks, no global lock)
//     and validate the request against the live projection.
//  2. Reserve the name (Names) and journal the intent (Recorder.Record) —
//     sandbox.creating, container.creating — before any side effect. The
//     intent carries everything needed to undo what follows.
//  3. Perform the side effects (runc through the shim, CNI, mounts, files).
//  4. Journal the result with Recorder.Settle, which ignores the caller's
//     cancellation: once the world has changed, the journal must say so. On
//     failure, undo the side effects and journal the object's removal with
//     the reason.
//
// When Record or Settle returns, the journal's commit hook has folded the
// events into the projection, so the caller reads its own writes.
//
// # Errors
//
// The sentinels of errors.go (ErrNotFound, ErrAlreadyExists,
// ErrInvalidArgument, ErrFailedPrecondition, ErrUnsupported) are wrapped by
// the aggregates with the object's ID and mapped to gRPC codes by criserver
// alone.
//
// # Paths
//
// Layout names every file and directory the daemon owns under its root
// (persistent) and state (runtime) directories.
//
// # What else the aggregates share
//
// DetectHost gathers the node's facts for runtime/oci (cgroup driver and
// version, swap accounting, recursive read-only mounts, the oom_score_adj
// clamp, AppArmor), once at start; HostDevices and DeviceAt read device
// nodes. MountOverlay and Unmount make and undo a container's rootfs
// (mount(2), or the new mount API for stacks too deep for one page of
// options). SeccompProfiles reads a Localhost profile a request names,
// ImageConfig the execution parameters of an image config.
package runtime
