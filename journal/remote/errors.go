package remote

import (
	"context"
	"errors"
	"fmt"

	"github.com/logbook-cri/logbook/journal"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrProtocol: the server answered something this client cannot make sense
// of (a stream that ended without its headers, an empty snapshot stream).
var ErrProtocol = errors.New("journal service protocol error")

// errorDomain names this service in the ErrorInfo detail of its errors.
const errorDomain = "journal.logbook"

// wireErrors is the one table both directions use: each journal sentinel,
// the gRPC code it travels as, and the reason that brings it back exactly
// (several sentinels share a code).
var wireErrors = []struct {
	err    error
	code   codes.Code
	reason string
}{
	{journal.ErrCompacted, codes.OutOfRange, "COMPACTED"},
	{journal.ErrOutOfRange, codes.OutOfRange, "OUT_OF_RANGE"},
	{journal.ErrNoSnapshot, codes.NotFound, "NO_SNAPSHOT"},
	{journal.ErrClosed, codes.Unavailable, "CLOSED"},
	{journal.ErrCorrupt, codes.DataLoss, "CORRUPT"},
	{journal.ErrFormatVersion, codes.FailedPrecondition, "FORMAT_VERSION"},
	{journal.ErrForeign, codes.FailedPrecondition, "FOREIGN"},
	{journal.ErrLocked, codes.FailedPrecondition, "LOCKED"},
	{journal.ErrReadOnly, codes.FailedPrecondition, "READ_ONLY"},
	{journal.ErrOutOfOrder, codes.InvalidArgument, "OUT_OF_ORDER"},
	{journal.ErrInvalidRecord, codes.InvalidArgument, "INVALID_RECORD"},
}

// toStatus turns an error of the journal into the gRPC status the service
// returns: the sentinel's code, the message, and an ErrorInfo naming the
// sentinel.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	for _, w := range wireErrors {
		if errors.Is(err, w.err) {
			st, derr := status.New(w.code, err.Error()).WithDetails(&errdetails.ErrorInfo{Reason: w.reason, Domain: errorDomain})
			if derr != nil {
				return status.Error(w.code, err.Error())
			}
			return st.Err()
		}
	}
	return status.Error(codes.Unknown, err.Error())
}

// fromStatus turns a status from the service back into an error that
// matches the journal's sentinel with errors.Is and keeps the server's
// message. Errors that are not statuses pass through.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Canceled:
		return fmt.Errorf("%w: %s", context.Canceled, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s", context.DeadlineExceeded, st.Message())
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != errorDomain {
			continue
		}
		for _, w := range wireErrors {
			if w.reason == info.GetReason() {
				return &wireError{sentinel: w.err, st: st}
			}
		}
	}
	return err
}

// wireError is a journal error that came over the wire: errors.Is matches
// its sentinel, and status.FromError still finds the status.
type wireError struct {
	sentinel error
	st       *status.Status
}

func (e *wireError) Error() string              { return "remote " + e.st.Message() }
func (e *wireError) Unwrap() error              { return e.sentinel }
func (e *wireError) GRPCStatus() *status.Status { return e.st }
