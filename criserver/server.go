package criserver

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/projector"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The interfaces below are what the CRI services need from the rest of the
// daemon. Each is as narrow as the handlers that use it; later parts of
// logbook implement them and are handed in through Deps.

// RuntimeProbe tells whether the OCI runtime works (Status' RuntimeReady)
// and what it is (verbose Status). The default runs `<runtime-path>
// --version`.
type RuntimeProbe interface {
	Probe(ctx context.Context) (OCIRuntime, error)
}

// Capabilities reports the runtime handlers (RuntimeClasses) logbook offers
// and the CRI features it implements, for Status. The default is the one
// default handler ("") without optional features.
type Capabilities interface {
	RuntimeHandlers() []*runtimeapi.RuntimeHandler
	RuntimeFeatures() *runtimeapi.RuntimeFeatures
}

// Network is the pod network as Status and UpdateRuntimeConfig see it. The
// default reports networking as not configured and accepts pod CIDRs
// without using them.
type Network interface {
	// NetworkStatus is NetworkReady: ready, or a CamelCase reason and a
	// message for the operator.
	NetworkStatus() (ready bool, reason, message string)
	// UpdatePodCIDRs hands over the node's pod CIDRs (one per IP family)
	// from the kubelet.
	UpdatePodCIDRs(ctx context.Context, cidrs []string) error
}

// Deps is everything the CRI services are built from. Config is required;
// any nil interface gets its default.
type Deps struct {
	// Config is the daemon's effective configuration.
	Config *config.Config
	// Logger receives the services' own messages; per-call logging is the
	// interceptors' (ServerOptions).
	Logger *slog.Logger
	// BuildVersion is logbook's version, the RuntimeVersion of Version.
	// Empty: taken from the binary's build information (BuildVersion).
	BuildVersion string

	Runtime      RuntimeProbe
	Capabilities Capabilities
	Network      Network
	// Projection answers every status and list; nil means an empty one.
	Projection Projection
	// Events serves GetContainerEvents (deps_events.go); nil leaves it
	// unimplemented.
	Events Events
	// Stats serves the stats and metrics calls (deps_stats.go); nil
	// leaves them unimplemented.
	Stats Stats
	// Images is the image aggregate (deps_images.go); nil leaves the
	// ImageService unimplemented.
	Images Images
	// Sandboxes and Containers are the lifecycle aggregates
	// (deps_lifecycle.go); nil leaves their RPCs unimplemented.
	Sandboxes  Sandboxes
	Containers Containers
	// Exec runs ExecSync; Streams hands out the streaming server's URLs
	// for Exec, Attach and PortForward (deps_streaming.go). Nil leaves
	// their RPCs unimplemented.
	Exec    Exec
	Streams Streams
}

// Server holds the two CRI services; Register puts both on a gRPC server.
type Server struct {
	Runtime *RuntimeService
	Image   *ImageService
}

// New builds the CRI services.
func New(d Deps) (*Server, error) {
	if d.Config == nil {
		return nil, errors.New("criserver: Deps.Config is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.BuildVersion == "" {
		d.BuildVersion = BuildVersion("")
	}
	if d.Runtime == nil {
		d.Runtime = RuncProbe{Path: d.Config.RuntimePath}
	}
	if d.Capabilities == nil {
		d.Capabilities = defaultCapabilities{}
	}
	if d.Network == nil {
		d.Network = unconfiguredNetwork{}
	}
	if d.Projection == nil {
		d.Projection = projector.NewStore(nil, nil)
	}
	return &Server{
		Runtime: &RuntimeService{
			deps: d,
			containersWire: wireCache[*projector.Container]{
				key: func(c *projector.Container) (string, uint64) { return c.ID, c.LastSeq },
				msg: func(c *projector.Container) proto.Message { return c.CRI() },
			},
			sandboxesWire: wireCache[*projector.Sandbox]{
				key: func(sb *projector.Sandbox) (string, uint64) { return sb.ID, sb.LastSeq },
				msg: func(sb *projector.Sandbox) proto.Message { return sb.CRI() },
			},
		},
		Image: &ImageService{deps: d},
	}, nil
}

// Register registers runtime.v1.RuntimeService and runtime.v1.ImageService
// on r.
func (s *Server) Register(r grpc.ServiceRegistrar) {
	runtimeapi.RegisterRuntimeServiceServer(r, s.Runtime)
	runtimeapi.RegisterImageServiceServer(r, s.Image)
}

// RuntimeService implements runtime.v1.RuntimeService, one method a file.
type RuntimeService struct {
	// The embedded type only satisfies the generated interface's
	// forward-compatibility guard; every method is written out, and a test
	// checks none falls through to it.
	runtimeapi.UnimplementedRuntimeServiceServer

	deps Deps

	mu       sync.Mutex
	podCIDRs []string // guarded by mu; last accepted UpdateRuntimeConfig

	// The wire encodings of the objects last listed (wirecache.go).
	containersWire wireCache[*projector.Container]
	sandboxesWire  wireCache[*projector.Sandbox]
}

// ImageService implements runtime.v1.ImageService, one method a file.
type ImageService struct {
	runtimeapi.UnimplementedImageServiceServer

	deps Deps
}

var (
	_ runtimeapi.RuntimeServiceServer = (*RuntimeService)(nil)
	_ runtimeapi.ImageServiceServer   = (*ImageService)(nil)
)

// defaultCapabilities: the default handler, no optional features, until the
// runtime reports what it can do.
type defaultCapabilities struct{}

func (defaultCapabilities) RuntimeHandlers() []*runtimeapi.RuntimeHandler {
	return []*runtimeapi.RuntimeHandler{{Name: "", Features: &runtimeapi.RuntimeHandlerFeatures{}}}
}

func (defaultCapabilities) RuntimeFeatures() *runtimeapi.RuntimeFeatures {
	return &runtimeapi.RuntimeFeatures{}
}

// unconfiguredNetwork: no network plugin is wired in yet.
type unconfiguredNetwork struct{}

func (unconfiguredNetwork) NetworkStatus() (bool, string, string) {
	return false, "NetworkPluginNotReady", "networking is not configured: logbookd has no network plugin yet"
}

func (unconfiguredNetwork) UpdatePodCIDRs(context.Context, []string) error { return nil }
