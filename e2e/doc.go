// Package e2e holds the end-to-end tests: the real binaries of bin/
// (logbookd with logbook-shim and logbook-pause beside it, crictl, the
// offline test registry) on a private root, state, socket and CNI network,
// driven by crictl and by the Go CRI client, killed with SIGKILL and
// restarted at will. `make test` builds bin/ first; without it the tests
// skip and say so.
//
// The tests cover what no package test can: the lifecycle through the real
// socket (lifecycle_test.go), images through the real registry
// (images_test.go), exec, attach and port-forward through crictl
// (streaming_test.go), OOM kills with the daemon up and down
// (oom_test.go), crashes at random points of a workload (crash_test.go),
// and the security and bad-input suites. harness_test.go is the shared
// harness; read it first.
package e2e
