// Package oom tells the runtime, as it happens, that the kernel's OOM
// killer ended a process in a container's cgroup. The runtime gives a
// Watcher a callback that appends the event to the journal, then Adds each
// container's cgroup when it is created and Removes it when it is gone.
//
// # One goroutine, one epoll set
//
// A node runs hundreds of containers; a goroutine and a blocking read per
// container would be hundreds of parked threads' worth of kernel waits for
// an event that almost never comes. A Watcher owns exactly one goroutine,
// blocked in epoll_wait on one epoll fd that holds every watched cgroup's
// notification fd, an eventfd that Close writes to stop it, and a timerfd
// (below). Add and Remove change the set from any goroutine under one
// mutex; the goroutine takes the same mutex to turn readiness into events,
// and calls the callback only after releasing it, so the callback may Add
// or Remove. Close signals the goroutine, waits for it (including a
// callback under way), then closes every fd: no goroutine and no fd
// outlives it.
//
// An fd number can be reused the moment it is closed, so the epoll data of
// each fd is a token that is never reused while registered, not the fd: an
// event that raced a Remove finds no watch rather than someone else's.
//
// # cgroup v1: eventfd
//
// v1 notifies through cgroup.event_control: writing "<eventfd> <fd of
// memory.oom_control>" to it makes the kernel signal the eventfd each time
// the cgroup enters OOM, and once more when the cgroup is removed. The
// signal says "OOM", not "kill", and it comes as the OOM starts, before
// the victim is chosen and memory.oom_control's oom_kill counter is
// raised. So the watcher reports only when the counter grew, and when a
// signal came without growth, looks at the counter again every 25ms for up
// to half a second (one timerfd serves every pending cgroup). A signal
// after which the cgroup is gone ends the watch by itself. Closing the
// eventfd is what unregisters it.
//
// # cgroup v2: inotify on memory.events
//
// v2 has no event_control; instead memory.events, whose lines count the
// cgroup's memory events, is modified (IN_MODIFY) whenever a counter
// changes. One inotify fd serves every v2 cgroup. The watcher reports only
// when oom_kill plus oom_group_kill grew: the "oom" line counts OOM
// situations that may end with no kill, and "max" or "high" events are
// frequent and harmless. Since the kernel updates the file after raising a
// counter, no recheck is needed. When the cgroup is removed the kernel
// drops the watch (IN_IGNORED) and the watch ends by itself.
//
// # What it reports, and what it leaves to the exit path
//
// Each Event carries the id, the new cumulative kill count, and the time
// the watcher saw it: the count lets the journal's consumer tell a new kill
// from one already recorded, even across daemon restarts. The counter read
// at Add is the baseline; kills before Add (say, while the daemon was down)
// are not events. That is deliberate: the notification is the live signal,
// not the record. The record is the counter itself, which the runtime
// reads with cgroups.OOMKills before a container's cgroup is removed; a
// container whose cgroup counted a kill is reported OOMKilled whether or
// not an Event was ever delivered (brief invariant 7).
package oom
