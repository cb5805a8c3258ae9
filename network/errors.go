package network

import "errors"

// Sentinel errors of the pod network. Callers test them with errors.Is; the
// sandbox aggregate maps them onto the runtime's own sentinels.
var (
	// ErrNotReady: no loadable CNI network configuration, so no pod can be
	// attached. NetworkStatus says why.
	ErrNotReady = errors.New("network plugin not ready")
	// ErrInvalidPodConfig: the pod asks for something no plugin can be
	// given: a port out of range, an unknown protocol, an unparsable or
	// unreasonable bandwidth annotation.
	ErrInvalidPodConfig = errors.New("invalid pod network configuration")
	// ErrSetup: the plugin chain's ADD failed (and was undone by a DEL).
	ErrSetup = errors.New("CNI setup failed")
	// ErrTeardown: the plugin chain's DEL failed; the attachment stays
	// recorded and the next Teardown tries again.
	ErrTeardown = errors.New("CNI teardown failed")
	// ErrNoIP: the chain succeeded but its result names no IP for the
	// pod's interface.
	ErrNoIP = errors.New("CNI result has no IP for the pod interface")
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("network manager closed")
)
