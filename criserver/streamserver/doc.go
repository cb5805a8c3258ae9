// Package streamserver is the streaming server of the CRI: the HTTP
// endpoint a kubelet (or crictl) connects to after Exec, Attach or
// PortForward has answered with a URL. The protocols on the wire, SPDY
// with the channel.k8s.io versions 1 to 4 and portforward.k8s.io, and
// WebSocket with channel.k8s.io up to v4, are those of
// k8s.io/cri-streaming, the library kubelets and containerd use:
// remotecommand.ServeExec, ServeAttach and portforward.ServePortForward
// run each session and call back into the runtime (package
// runtime/streaming) through a small adapter. What this package adds
// around them is the part a runtime must get right itself: the URLs, their
// tokens, and the server's lifetime.
//
// # URLs and the token lifecycle
//
// A URL is absolute, http://<host>:<port>/<exec|attach|portforward>/<token>,
// because a kubelet redirects its apiserver to it. The host is the
// listening address ("stream-address", default 127.0.0.1 with a port the
// kernel picks), or, for a server listening on every address, the node's
// first global unicast address of that family.
//
// Exec, Attach and PortForward first ask the runtime whether the
// container runs or the sandbox is ready, so that a client learns at once
// (NotFound, FailedPrecondition) rather than from a failed upgrade; then
// the request is stored under a fresh token of 128 random bits. A token
// is single-use: the first request that presents it removes it, whether
// it is still valid or not, and a token of one kind is no good for
// another. It expires TokenTTL (a minute) after it was issued. Since every
// token lives as long, the store is a list in expiry order, trimmed of
// its expired head at each issue, with at most MaxPending tokens
// outstanding (ResourceExhausted beyond). An unknown, used or expired
// token is answered 404, as kubelets do. The library has a store of its
// own, but with a fixed TTL and 48-bit tokens, and no way to test expiry;
// this one takes a clock.
//
// # Lifetime
//
// Listen listens before returning, so a busy address fails the daemon's
// start. The server owns its serving goroutine and every session:
//
//   - every request's context derives from the server's, which Close
//     cancels: a running exec's process is killed, an attach detaches, a
//     port-forward's connection into the pod is closed;
//   - SPDY and WebSocket sessions take their connection over from
//     net/http (hijack), which then forgets it; the listener remembers
//     every connection it accepted until it is closed, and Close closes
//     them all, which ends the library's session loops;
//   - every handler, and every port-forward connection the library runs
//     on a goroutine of its own, is counted; Close waits for the count to
//     reach zero and refuses new ones.
//
// So when Close returns nothing of the server runs, the library's session
// goroutines included (a test checks the goroutine dump).
package streamserver
