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
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		for _, m := range ev.Messages {
			if err := stream.Send(m); err != nil {
				return err
			}
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
