// Package network attaches pod network namespaces to the node's pod
// network with CNI, through the reference library libcni
// (github.com/containernetworking/cni). The sandbox aggregate owns the
// namespace (it creates it, bind-mounts it at runtime.Layout.NetNS, brings
// lo up and removes it); this package only runs the plugin chain on it.
//
// # The network
//
// The network is the first file of the configuration directory
// ("cni-conf-dir"), in lexical order, among *.conflist, *.conf and *.json,
// that parses, is more than a lone loopback plugin, and whose plugins are
// all found in the plugin directories ("cni-bin-dir"). A single-plugin file
// is run as a chain of one. The loopback plugin does not belong in the
// chain: the sandbox brings lo up itself, and a loopback plugin last in a
// chain would replace the chain's result with its own.
//
// # Readiness
//
// NetworkStatus is the runtime's NetworkReady condition: true once a
// network is loaded; otherwise reason NetworkPluginNotReady and a message
// naming the directory and why each file in it was passed over (invalid
// JSON, a plugin not found, ...). The configuration directory and the
// plugin directories are watched with inotify (fsnotify), so dropping a
// configuration in makes the node ready without a restart, and breaking or
// removing it makes it not ready. The directory is the node's, so it is
// never created; while it does not exist (or was removed while watched)
// it is polled every two seconds until it can be watched again. Every operation takes the network
// loaded at its start; a change of configuration never affects an
// attachment already made (see below).
//
// # Setup: ADD
//
// Setup runs the chain's ADD for the sandbox's namespace with what
// kubelets' runtimes pass: the container ID is the sandbox ID, the
// interface is eth0, CNI_ARGS are IgnoreUnknown=1, K8S_POD_NAMESPACE,
// K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID and K8S_POD_UID, and the
// capability args (which libcni hands only to plugins that declare them)
// are computed from the pod config by pure, table-tested functions:
//
//   - portMappings: the port mappings with a host port. A mapping with
//     host port 0 only documents a container port, which the pod IP
//     reaches anyway; portmap refuses it. Protocols are tcp, udp, sctp.
//   - dns: the pod's DNSConfig.
//   - bandwidth: the kubernetes.io/ingress-bandwidth and egress-bandwidth
//     annotations, Kubernetes quantities in bits per second (1k to 1P), with
//     an unlimited burst so the rate is the limit.
//   - ipRanges: one range set per pod CIDR given by UpdateRuntimeConfig.
//
// The pod's IPs are those of the result on eth0 inside the namespace, IPv4
// first: the first is the primary IP, the others are CRI's additional IPs.
// Setup returns them with the raw result and the network's name, which the
// sandbox journals. A failed ADD is followed at once by a DEL with the
// same arguments (even when the caller's context has ended), so a failed
// Setup leaves no lease, interface or rule behind. Host-network pods are
// never attached.
//
// # Teardown: DEL, idempotent and crash-safe
//
// Before ADD runs, Setup writes an attachment record, durably (temporary
// file, fsync, rename, fsync of the directory), under CacheDir: the
// configuration's bytes and every argument above. The record is removed
// only after a DEL succeeded. libcni keeps its own cache of the result in
// CacheDir too (under the daemon's root, never /var/lib/cni, so that two
// daemons never mix their results). Teardown then decides from what it
// finds:
//
//   - A record: DEL with exactly the record's configuration and arguments,
//     whatever happened to the configuration directory since, and with
//     libcni's cached result as prevResult.
//   - No record, but a journaled result (prev): a DEL already succeeded, or
//     the cache was lost. DEL with the current network and arguments
//     computed again; the journaled result is put back where libcni reads
//     a cached result (as a bare result, libcni's original cache format),
//     so the plugins get the same prevResult as before.
//   - Neither: no ADD ever started (the record precedes it), so there is
//     nothing to release.
//
// A namespace that is no longer a mounted nsfs file is not passed to the
// plugins (CNI_NETNS is left empty): bridge then only releases the
// address, and host-local and portmap never needed it. DEL of what is
// already gone succeeds in every plugin, so Teardown may run any number of
// times. A failed DEL leaves the record, and the next Teardown (a later
// StopPodSandbox, or recovery at start-up) runs it again.
//
// Crash safety follows. The sandbox journals its intent (with the netns
// path and the config) before calling Setup, and the result after. If the
// daemon dies anywhere in between, recovery finds the sandbox still
// creating and calls Teardown with prev nil: if the record was written,
// its DEL releases whatever the ADD had done, complete or not; if it was
// not, ADD never ran. Once the result is journaled, Teardown has the
// record, or at worst the journaled result. Options.AfterAdd is the one
// fault-injection point: a test hook run between a successful ADD and
// Setup's return, where the crash tests kill the daemon.
package network
