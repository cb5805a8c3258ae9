package criserver

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/criserver/streamserver"
	"github.com/logbook-cri/logbook/runtime/streaming"
)

// Exec runs ExecSync (runtime/streaming.Service): the command in a
// running container, its timeout enforced, its output held to the
// kubelet's response limit. Nil leaves ExecSync Unimplemented.
type Exec interface {
	ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (streaming.ExecSyncResult, error)
}

// Streams hands out the streaming server's URLs for Exec, Attach and
// PortForward (criserver/streamserver.Server), after checking the
// container or sandbox. Nil leaves the three Unimplemented.
type Streams interface {
	Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
}

var (
	_ Exec    = (*streaming.Service)(nil)
	_ Streams = (*streamserver.Server)(nil)
)
