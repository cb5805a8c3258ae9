// Package criserver serves the CRI v1 API (runtime.v1.RuntimeService and
// runtime.v1.ImageService of k8s.io/cri-api) over gRPC. It is an edge: it
// translates, it does not decide.
//
// # One method, one file, one thin adapter
//
// Each CRI method lives in its own file, named after it (run_pod_sandbox.go,
// image_status.go, ...). A handler checks the request's CRI shape (require:
// missing IDs, configs and metadata are InvalidArgument naming the field as
// api.proto spells it), calls the component that owns the operation, and
// converts the answer. Whether an ID names an existing object, whether a
// transition is legal, what a status says: none of that is decided here;
// the runtime validates against the projection of the journal, and the
// projection answers reads.
//
// The components reach the handlers through Deps, a struct of narrow
// interfaces defined in this package where they are used (RuntimeProbe,
// Capabilities, Network, and those later issues add for sandboxes,
// containers, images, events and streaming). Every interface left nil gets a
// default that is honest about what is missing: the network reports
// NetworkReady=false with reason NetworkPluginNotReady, the capabilities
// report the default handler without optional features. Methods whose
// component does not exist yet answer Unimplemented, naming the method.
//
// # Errors become codes in one place
//
// Handlers, and the packages beneath them, return ordinary errors that wrap
// sentinels with %w. codes.go holds the single table from sentinels to gRPC
// codes (InvalidArgument, NotFound, AlreadyExists, FailedPrecondition,
// ResourceExhausted, DeadlineExceeded, Unavailable, Unauthenticated, ...),
// and the interceptors apply it to whatever a handler returns, so no handler
// builds a status itself and a sentinel gets the same code wherever it
// surfaces. A new sentinel a client must tell apart is one line in that
// table; an error nobody classified is Unknown with its message intact.
//
// # Cross-cutting work is interceptors
//
// ServerOptions returns the gRPC server options every service on the
// daemon's socket shares: a 16 MiB message limit each way (a kubelet's own
// limit; a bigger request is refused with ResourceExhausted before it is
// decoded), and a unary and a stream interceptor that map errors, recover a
// panicking handler into Internal (one bad request must not take down the
// node's runtime), log each call with slog (method, duration, code; the
// request itself at debug level, with the fields api.proto marks
// debug_redact, i.e. registry credentials, removed) and report it to a
// RequestObserver (metrics.CRI). Successful calls log at debug level, since a
// kubelet polls several times a second; client errors at info; failures of
// the daemon itself at error. The stream interceptor also ties each stream
// to the daemon's shutdown: event streams and journal tails never end on
// their own, so when shutdown begins they end with Unavailable (come back to
// the next daemon) and a graceful stop waits only for unary calls
// (UnaryCalls counts them: a stream whose client does not read cannot
// flush its last messages, and the daemon cuts it a second after the
// unary calls are done instead of waiting out its stop timeout).
//
// # Version and build
//
// Version reports RuntimeName "logbook", RuntimeApiVersion "v1" and, as
// RuntimeVersion, logbook's own version: the one linked in by the build
// (-X main.version), or what the Go toolchain recorded (BuildVersion).
// Status probes the OCI runtime by running `<runtime-path> --version` on each
// call (RuncProbe; a few milliseconds, and a kubelet asks every few seconds),
// so RuntimeReady turns false as soon as the binary is gone or broken.
//
// # Lists a kubelet relists
//
// ListContainers and ListPodSandbox answer with each object's wire
// encoding made once per change of the object (its LastSeq) and kept
// (wirecache.go): a relist of 1,000 containers then costs the daemon the
// projection's list and a concatenation, not 1,000 CRI messages built and
// marshalled. The responses carry their lists as raw fields, so only a
// gRPC client sees them; every caller is one.
package criserver
