// Command soak is logbook's endurance driver (make soak): -pods pods (1,000)
// created and removed in waves of -wave with -workers workers, on a real
// logbookd, while -subscribers GetContainerEvents clients listen, one of
// them stalled (its stream open, nothing read) until every wave is done.
// It prints figures and ratios and exits non-zero when a check fails.
//
// Each pod is a sandbox on the run's own CNI network with one busybox
// container, half of them sleeping, half exiting at once. A warm-up wave
// comes first, so that what a daemon allocates once (threads, pools,
// caches) is in the baseline; then the waves. The figures:
//
//   - the daemon's RSS, goroutines (its /metrics), file descriptors and
//     threads when fresh, at the baseline (after the warm-up, no pod
//     left) and after the last wave (no pod left), with the peak RSS;
//     growth past the bounds of figures.go (RSS 1.5x + 16 MiB, goroutines
//     and fds +10) is a failure, since a daemon that keeps nothing of a
//     removed pod returns to its baseline;
//   - the shims' VmRSS and Pss, sampled at each wave's peak;
//   - pods per second up and down;
//   - event loss, which must be zero: every subscriber, the stalled one
//     once it reads, must have received exactly what the journal yields
//     (rig.Expected, rig.Compare);
//   - the journal: records and file size after the waves, then after a
//     clean restart with a short -retention, which compacts at start
//     (records retained, the file's size: bbolt reuses freed pages, it
//     does not shrink the file); `logbook journal verify` before and after;
//   - leaks, as make chaos checks them, with no pod left.
package main
