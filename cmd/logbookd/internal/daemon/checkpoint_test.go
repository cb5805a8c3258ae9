package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"google.golang.org/protobuf/proto"
)

// TestCheckpoints: while records are appended, the checkpointer stores a
// snapshot of the live projection whenever `every` records have come
// since the newest one, so a restart after a crash never folds more than
// about `every` records; each snapshot loads into the state at its
// position.
func TestCheckpoints(t *testing.T) {
	ctx := context.Background()
	var store *projector.Store
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), journal.Options{
		OnCommit: func(recs []journal.Record) { store.ApplyRecords(recs) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	store = projector.NewStore(nil, nil)
	const every = 40
	c := startCheckpoints(j, store, every, 5*time.Millisecond, slog.New(slog.DiscardHandler))
	stopped := false
	defer func() {
		if !stopped {
			c.stop()
		}
	}()

	id := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	var last uint64
	for i := range 200 {
		for _, m := range []proto.Message{&events.ImagePulled{ImageId: id(i)}, &events.ImageRemoved{ImageId: id(i)}} {
			typ, b, err := events.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if last, err = j.Append(ctx, journal.Record{Type: string(typ), Payload: b}); err != nil {
				t.Fatal(err)
			}
		}
		if i%20 == 19 {
			// Let the checkpointer look, as time passes on a node.
			deadline := time.Now().Add(10 * time.Second)
			for {
				at, _, err := j.Snapshot(ctx, 0)
				if err == nil && last-at < 2*every {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after record %d the newest snapshot is at %d (%v); want one within %d records", last, at, err, 2*every)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	if store.Skipped() != 0 {
		t.Fatalf("the store refused %d records", store.Skipped())
	}
	c.stop()
	stopped = true
	at, data, err := j.Snapshot(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := projector.UnmarshalState(data)
	if err != nil || s.Seq() != at {
		t.Fatalf("snapshot stored at %d holds the state at %d (%v)", at, s.Seq(), err)
	}
	if last-at >= 2*every {
		t.Fatalf("the newest snapshot is at %d, %d records behind the head", at, last-at)
	}
	loaded, err := projector.Load(ctx, j, 0, nil)
	if err != nil || loaded.Seq() != last {
		t.Fatalf("Load after the checkpoints: seq %d, %v; want %d", loaded.Seq(), err, last)
	}
}
