package runtime

import (
	"context"
	"testing"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

type fakeAppender struct {
	got []journal.Record
}

func (f *fakeAppender) Append(ctx context.Context, recs ...journal.Record) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f.got = append(f.got, recs...)
	return uint64(len(f.got) - len(recs) + 1), nil
}

func TestRecorderEncodesEnvelopes(t *testing.T) {
	f := &fakeAppender{}
	r := Recorder{Journal: f}
	first, err := r.Record(context.Background(),
		Event{SandboxID: "s", ContainerID: "c", Payload: &events.ContainerStarted{Pid: 42}},
		Event{SandboxID: "s", ContainerID: "c", Payload: &events.ContainerExited{ExitCode: 3}},
	)
	if err != nil || first != 1 || len(f.got) != 2 {
		t.Fatalf("first=%d err=%v records=%d", first, err, len(f.got))
	}
	if f.got[0].Type != string(events.ContainerStartedType) || f.got[1].Type != string(events.ContainerExitedType) {
		t.Fatalf("types %q %q", f.got[0].Type, f.got[1].Type)
	}
	m, err := events.Decode(events.Type(f.got[1].Type), f.got[1].Payload)
	if err != nil || m.(*events.ContainerExited).GetExitCode() != 3 {
		t.Fatalf("payload lost: %v %v", m, err)
	}
	if f.got[0].SandboxID != "s" || f.got[0].ContainerID != "c" {
		t.Fatalf("ids lost: %+v", f.got[0])
	}
}

func TestSettleIgnoresCallerCancellation(t *testing.T) {
	f := &fakeAppender{}
	r := Recorder{Journal: f}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Record(ctx, Event{SandboxID: "s", Payload: &events.SandboxStopped{}}); err == nil {
		t.Fatal("Record appended with a cancelled context")
	}
	if _, err := r.Settle(ctx, Event{SandboxID: "s", Payload: &events.SandboxStopped{}}); err != nil {
		t.Fatalf("Settle refused after cancellation: %v", err)
	}
	if len(f.got) != 1 {
		t.Fatalf("%d records", len(f.got))
	}
}
