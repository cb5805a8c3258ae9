// Command loadtest measures pods and containers end to end over the CRI
// socket of a real logbookd, and a bare `runc run -d` of the same bundles
// in the same run as the baseline. make bench runs it (hack/bench.d/
// lifecycle.sh); it prints figures, never a verdict.
//
// It starts the offline test registry and a throwaway logbookd (its own
// root, state, socket and, with -cni, a private bridge network), then:
//
//   - pod start: RunPodSandbox + CreateContainer + StartContainer of a
//     busybox `sleep` container, one pod at a time, p50/p90/mean; pod
//     stop (StopPodSandbox, which kills the container) and remove
//     (RemovePodSandbox), and container stop/remove alone;
//   - pods/s: the same pod start by -workers concurrent workers;
//   - the baseline: `runc run -d` of the infra bundle and of the
//     container bundle logbookd wrote (same rootfs, same spec, with fresh
//     namespaces and a cgroup of their own), then `runc delete -f`, one
//     pair at a time: pod start / baseline pair is the budget's ratio
//     (1.3x);
//   - lists: ListContainers, ListPodSandbox and ContainerStatus with
//     -list-containers containers (exited `true` containers in pods of
//     100), p50/p90/p99.
package main
