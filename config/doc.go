// Package config is logbookd's configuration: one JSON file (daemon.json)
// and one command-line flag per key, with the same name.
//
// # Layers
//
// The effective configuration is built in a fixed order: Default, then the
// file (ApplyJSON overlays only the keys it names), then the flags in the
// order given (Set), then Finish, which validates everything, cleans paths
// and derives what depends on other keys. A flag therefore always wins over
// the file, whatever their order on the command line. The default file
// (/etc/logbook/daemon.json) may be absent; a file named with --config may
// not.
//
// # One table of keys
//
// Every key is one row of keys(): its name (the JSON key and the flag), its
// help text and a pointer into Config. The file decoder, the flag set and
// the defaults in the help all walk that table, so a key cannot exist in one
// and be missing from another, and the Go type of the field decides how a
// JSON value or a flag string is read. Validation is a pure function of a
// Config (Validate), so it is table-tested without a file system; the only
// system access is Finish's look-up of runtime-path, which is injected.
//
// # Errors name the key
//
// Unknown keys, duplicate keys, JSON null, wrong JSON types, relative paths,
// bad durations, malformed URLs: each is a *KeyError that names the key and
// wraps a sentinel (ErrUnknownKey, ErrDuplicateKey, ErrInvalidValue,
// ErrCRIv1Disabled). All problems of a file are reported together, joined,
// so an operator fixes them in one round. A typo is never silently replaced
// by a default: that is how a daemon ends up with the wrong cgroup driver.
//
// # Nothing global
//
// Every path the daemon writes is under "root" (persistent) or "state"
// (runtime, gone at reboot), except the socket, which defaults to
// <state>/logbook.sock and moves with the state directory. Two daemons with
// different root, state and socket (and metrics-address, the one port)
// therefore run side by side.
//
// # Keys
//
//	enable-cri-v1              true   only true is accepted: CRI v1 is all logbookd serves
//	systemd-cgroup             false  systemd cgroup driver instead of cgroupfs
//	enable-pod-events          false  GetContainerEvents and PodSandboxStatus timestamps
//	root                       /var/lib/logbook
//	state                      /run/logbook
//	socket                     ""     empty: <state>/logbook.sock; at most 107 bytes
//	runtime-path               runc   absolute path, or a bare name looked up in PATH
//	log-level                  info   debug | info | warn | error
//	metrics-address            127.0.0.1:9120   empty disables /metrics
//	metrics-allow-non-loopback false  without it metrics-address must be loopback
//	enable-profiling           false  Go's pprof at /debug/pprof/ on metrics-address
//	registry-mirrors           {}     {"docker.io": ["https://m1", "http://m2:5000"]}
//	cni-conf-dir               /etc/cni/net.d
//	cni-bin-dir                /usr/lib/cni:/opt/cni/bin
//	pod-sandbox-image          ""     empty: the built-in pause image
//	stream-address             127.0.0.1:0
//	journal-retention          24h    Go duration; 0 keeps every event
//
// metrics-allow-non-loopback is not in the original list of keys: it is the
// explicit opt-in that lets metrics-address leave loopback, so exposing the
// endpoint to the network is always a deliberate, visible choice.
//
// enable-profiling is the daemon's own too: heap, goroutine and CPU
// profiles of a running logbookd (go tool pprof
// http://127.0.0.1:9120/debug/pprof/heap), off by default; they reveal
// nothing a root user of the node could not read anyway, but they cost a
// little when asked for, so asking is opt-in.
//
// registry-mirrors is the only key where a plain http:// URL is accepted
// (local mirrors commonly have no TLS); on the command line it is given as
// --registry-mirrors host=url[,url...], repeated once per host, and the flags
// replace the file's mirrors as a whole.
package config
