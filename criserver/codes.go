package criserver

import (
	"context"
	"errors"
	"syscall"

	"github.com/logbook-cri/logbook/criserver/streamserver"
	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/network"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
	"github.com/logbook-cri/logbook/runtime/streaming"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// This file is the one place where errors become gRPC status codes. Handlers
// and the packages below them return plain errors wrapping sentinels (with
// %w); the interceptors call toStatus on whatever a handler returns. A new
// sentinel that a CRI client must be able to tell apart gets one line in
// sentinelCodes.

// sentinelCodes maps sentinel errors, of this package and of the packages
// below it, to the code a CRI client sees. The first match wins, so more
// specific errors come first.
func sentinelCodes() []struct {
	err  error
	code codes.Code
} {
	return []struct {
		err  error
		code codes.Code
	}{
		// Request shape (this package).
		{ErrMissingField, codes.InvalidArgument},
		{ErrInvalidField, codes.InvalidArgument},
		{ErrNotImplemented, codes.Unimplemented},
		{ErrFeatureDisabled, codes.FailedPrecondition},

		// The caller's context: its deadline or its cancellation.
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{context.Canceled, codes.Canceled},

		// journal: a closed journal means the daemon is shutting down; a
		// damaged one is data loss, never to be retried blindly.
		{journal.ErrClosed, codes.Unavailable},
		{journal.ErrLocked, codes.Unavailable},
		{journal.ErrReadOnly, codes.FailedPrecondition},
		{journal.ErrCompacted, codes.OutOfRange},
		{journal.ErrOutOfRange, codes.OutOfRange},
		{journal.ErrNoSnapshot, codes.NotFound},
		{journal.ErrInvalidRecord, codes.Internal},
		{journal.ErrOutOfOrder, codes.Internal},
		{journal.ErrCorrupt, codes.DataLoss},
		{journal.ErrForeign, codes.DataLoss},
		{journal.ErrFormatVersion, codes.DataLoss},

		// journal/events: a payload this build cannot read.
		{events.ErrUnknownType, codes.DataLoss},
		{events.ErrBadPayload, codes.DataLoss},

		// runtime: an unknown sandbox or container.
		{runtime.ErrNotFound, codes.NotFound},
		// runtime: the lifecycle aggregates' other refusals, and the spec
		// generator's (a request wrong in itself; one right but not doable
		// here; facts the runtime failed to provide, a logbook bug).
		{runtime.ErrAlreadyExists, codes.AlreadyExists},
		{runtime.ErrInvalidArgument, codes.InvalidArgument},
		{runtime.ErrFailedPrecondition, codes.FailedPrecondition},
		{runtime.ErrUnsupported, codes.Unimplemented},
		{oci.ErrInvalid, codes.InvalidArgument},
		{oci.ErrUnsupported, codes.Unimplemented},
		{oci.ErrBadInput, codes.Internal},

		// network: a pod asking what no plugin can be given; no usable CNI
		// configuration (Status says why); the daemon shutting down.
		{network.ErrInvalidPodConfig, codes.InvalidArgument},
		{network.ErrNotReady, codes.FailedPrecondition},
		{network.ErrClosed, codes.Unavailable},

		// The streaming server: too many URLs outstanding; shutting down.
		{streamserver.ErrTooManySessions, codes.ResourceExhausted},
		{streamserver.ErrClosed, codes.Unavailable},
		{streaming.ErrClosed, codes.Unavailable},

		// The system: a full disk is a resource the node has run out of.
		{syscall.ENOSPC, codes.ResourceExhausted},
		{syscall.EDQUOT, codes.ResourceExhausted},

		// image: each class of the store's errors names its code (after
		// ENOSPC, so a full disk under ErrStorage is ResourceExhausted).
		{image.ErrInvalidReference, codes.InvalidArgument},
		{image.ErrInvalidAuth, codes.InvalidArgument},
		{image.ErrInvalidImage, codes.InvalidArgument},
		{image.ErrNotFound, codes.NotFound},
		{image.ErrUnauthenticated, codes.Unauthenticated},
		{image.ErrUnavailable, codes.Unavailable},
		{image.ErrDeadlineExceeded, codes.DeadlineExceeded},
		{image.ErrCanceled, codes.Canceled},
		{image.ErrStorage, codes.Internal},
	}
}

// codeOf classifies err. An error that already carries a gRPC status (a
// lower layer that speaks gRPC itself) keeps its code; an error nobody
// classified is Unknown, and its message says what happened.
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Code()
	}
	for _, m := range sentinelCodes() {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return codes.Unknown
}

// toStatus turns a handler's error into the status error gRPC sends.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	return status.Error(codeOf(err), err.Error())
}
