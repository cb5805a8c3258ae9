// Package cgroupstest gives tests real cgroups of their own: created fresh
// under the test process's own cgroup in every controller (never assuming
// one path for all: on the project's test host the memory cgroup of a
// test is nested while the others are at the root), emptied and removed
// when the test ends. Tests that use it need root and skip without it.
//
// A test cgroup joins the controllers logbook reads stats from (memory,
// cpu, cpuacct, pids, blkio on v1; the test's own cgroup2 directory on v2,
// when memory is delegated there). Start places a process inside before it
// runs a single instruction of its own: a busybox shell writes its pid into
// every cgroup.procs, then execs the command, so a test never races a
// process that allocates before it is moved. Waiting is always polling a
// real condition (the pid listed in every directory, the cgroup empty) with
// a deadline.
package cgroupstest
