// Command logbookd is logbook's daemon: it serves the Kubernetes CRI v1
// (RuntimeService and ImageService) on a unix socket, by default
// /run/logbook/logbook.sock, and Prometheus metrics on 127.0.0.1:9120.
//
// Usage:
//
//	logbookd [--config /etc/logbook/daemon.json] [--<key> value ...]
//	logbookd --version
//
// Every key of the JSON config file (see package config) is a flag of the
// same name, and a flag overrides the file: --root, --state, --socket,
// --runtime-path, --log-level, --systemd-cgroup, --metrics-address, ...
// Boolean keys may be given bare (--systemd-cgroup) or with a value
// (--enable-pod-events=false).
//
// This command only parses flags, loads the configuration, sets up logging
// (log/slog, text, to stderr, at log-level) and signals, and hands over to
// internal/daemon, which does the wiring. SIGTERM or SIGINT stops it
// gracefully and it exits 0; a second signal ends it at once. It exits 1
// when it cannot start (bad configuration, another daemon owning its state,
// root or socket) and 2 on a malformed command line.
package main
