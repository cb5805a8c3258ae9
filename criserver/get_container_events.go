package criserver

import (
	"context"
	"fmt"
	"strconv"

	"github.com/logbook-cri/logbook/projector/eventstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// GetContainerEvents streams container and sandbox lifecycle events: a tail of the journal with replay (served when enable-pod-events is set).
func (s *RuntimeService) GetContainerEvents(req *runtimeapi.GetEventsRequest, stream grpc.ServerStreamingServer[runtimeapi.ContainerEventResponse]) error {
	if s.deps.Events == nil {
		return notImplemented("GetContainerEvents")
	}
	if !s.deps.Config.EnablePodEvents {
		return fmt.Errorf("GetContainerEvents: %w: pod events are disabled; set \"enable-pod-events\": true in logbookd's config file (or pass --enable-pod-events) and restart it", ErrFeatureDisabled)
	}
	ctx := stream.Context()
	after, resume, err := lastSeq(ctx)
	if err != nil {
		return err
	}
	var sub *eventstream.Subscription
	if resume {
		sub, err = s.deps.Events.Resume(ctx, after)
	} else {
		sub, err = s.deps.Events.Subscribe(ctx)
	}
	if err != nil {
		return fmt.Errorf("GetContainerEvents: %w", err)
	}
	defer sub.Close()
	if err := stream.SendHeader(metadata.Pairs(LastSeqHeader, strconv.FormatUint(sub.Position(), 10))); err != nil {
		return err
	}
	// The sends run on a goroutine of their own. A client that stops
	// reading fills its flow-control window, and then gRPC's Send blocks
	// until the stream itself ends: it does not notice the call's context
	// (the daemon's shutdown) ending. So this handler only ever waits on
	// the subscription, the sender and the context, and returns as soon
	// as the context ends; returning ends the stream, which makes a
	// blocked Send return, so the sender ends with the call. At most one
	// record's messages wait for it: the channel is unbuffered.
	batches := make(chan []*runtimeapi.ContainerEventResponse)
	failed := make(chan error, 1)
	go func() {
		for msgs := range batches {
			for _, m := range msgs {
				if err := stream.Send(m); err != nil {
					failed <- err
					return
				}
			}
		}
	}()
	defer close(batches)
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		select {
		case batches <- ev.Messages:
		case err := <-failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lastSeq reads the client's resume position from the call's metadata.
func lastSeq(ctx context.Context) (after uint64, ok bool, err error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(LastSeqHeader)
	if len(vals) == 0 {
		return 0, false, nil
	}
	if len(vals) > 1 {
		return 0, false, fmt.Errorf("%w: metadata %s: given %d times", ErrInvalidField, LastSeqHeader, len(vals))
	}
	after, err = strconv.ParseUint(vals[0], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: metadata %s: %q is not a journal sequence number", ErrInvalidField, LastSeqHeader, vals[0])
	}
	return after, true, nil
}
