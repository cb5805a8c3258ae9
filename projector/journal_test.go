package projector

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/journal"
)

// End to end with the real journal: the store fed by the commit hook, then
// compaction with the retention policy (and the live store forgetting the
// tombstones it compacted away), then a cold start with Load, all agree
// with a replay of what was appended, less those tombstones.
func TestWithRealJournal(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	store := NewStore(nil, nil)
	j, err := journal.Open(path, journal.Options{OnCommit: store.ApplyRecords})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()

	recs := cleanRecords(generate(5, 1500))
	for i := 0; i < len(recs); i += 50 {
		batch := recs[i:min(i+50, len(recs))]
		in := make([]journal.Record, len(batch))
		for k, r := range batch {
			r.Seq = 0 // the journal numbers them; Time is kept
			in[k] = r
		}
		first, err := j.Append(ctx, in...)
		if err != nil || first != batch[0].Seq {
			t.Fatalf("append: first %d err %v, want %d", first, err, batch[0].Seq)
		}
		// The commit hook ran before Append returned: read your writes.
		if store.Seq() != batch[len(batch)-1].Seq {
			t.Fatalf("store at %d after append up to %d", store.Seq(), batch[len(batch)-1].Seq)
		}
	}
	want := replay(recs)
	sameState(t, "store", store.Snapshot(), want)

	dropped, err := Compact(ctx, j, time.Hour, nowAfter(1000, time.Hour))
	if err != nil || dropped != 1000 {
		t.Fatalf("Compact: dropped %d err %v", dropped, err)
	}
	if first, _, _ := j.Bounds(ctx); first != 1001 {
		t.Fatalf("first retained %d, want 1001", first)
	}
	// The records before 1001 are gone, and with them the tombstones of
	// the objects they removed; the daemon's retention loop makes the
	// live store forget the same.
	sameState(t, "Load after compaction", loadAll(t, j, 0), forgotten(want, 1001))
	sameState(t, "Load at 1200", loadAll(t, j, 1200), forgotten(replay(recs[:1200]), 1001))
	if n := store.ForgetRemovedBefore(1001); n != want.removed.len()-forgotten(want, 1001).removed.len() || n == 0 {
		t.Fatalf("the store forgot %d tombstones", n)
	}
	want = forgotten(want, 1001)
	sameState(t, "store after the retention pass", store.Snapshot(), want)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	// A cold start reads the head snapshot and (here) no events at all.
	j2, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	var read int
	counting := countingReplayer{j2, &read}
	sameState(t, "cold start", loadAll(t, counting, 0), want)
	if read != 0 {
		t.Fatalf("cold start folded %d records; the head snapshot should cover them all", read)
	}
}

type countingReplayer struct {
	Replayer
	n *int
}

func (c countingReplayer) Read(ctx context.Context, from, to uint64, fn func(journal.Record) error) error {
	return c.Replayer.Read(ctx, from, to, func(r journal.Record) error {
		*c.n++
		return fn(r)
	})
}
