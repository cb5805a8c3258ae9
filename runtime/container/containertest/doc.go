// Package containertest runs the sandbox and container aggregates for real
// in tests: a journal and its live projection in a temporary directory, real
// runc with the real shim and pause binaries (built once per test binary by
// Main), an image store fed by an in-process registry serving a busybox
// image, and both services wired as logbookd wires them. Restart closes
// everything but the containers and opens it again, as a daemon restart
// does, so recovery is tested in-process.
package containertest
