package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/projector"
)

// openProjection rebuilds the live projection from the journal: the newest
// snapshot, then every record after it. A record that cannot be folded (a
// bug upstream, never expected) is logged and stepped over, as the live
// store does, so one bad record does not keep a node down; `logbook journal
// verify` reports it.
func openProjection(ctx context.Context, j *journal.Journal, log *slog.Logger) (*projector.Store, error) {
	start := time.Now()
	skipped := 0
	state, err := projector.Load(ctx, j, 0, func(r journal.Record, err error) {
		skipped++
		log.Error("journal record cannot be folded, skipped", "seq", r.Seq, "type", r.Type, "err", err)
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild the projection from %s: %w", j.Path(), err)
	}
	first, last, _ := j.Bounds(ctx)
	log.Info("projection rebuilt", "seq", state.Seq(), "first", first, "last", last,
		"skipped", skipped, "took", time.Since(start).Round(time.Millisecond))
	return projector.NewStore(state, log), nil
}

// retentionInterval is how often the retention policy runs. Compaction
// deletes in small transactions, so a run never stalls appenders for long.
const retentionInterval = 10 * time.Minute

// startRetention starts the policy (nil, nothing started, for a zero
// window, which keeps every event). The first pass comes at once: a
// daemon restarted after a long time compacts before it serves for long.
// After each pass the live store (when not nil) forgets the tombstones of
// the objects whose removal records are no longer retained, as a
// restart's Load would, so its memory stays bounded by the window.
func startRetention(j *journal.Journal, live *projector.Store, window time.Duration, log *slog.Logger) *periodic {
	if window <= 0 {
		return nil
	}
	return startPeriodic(retentionInterval, true, func(ctx context.Context) {
		dropped, err := projector.Compact(ctx, j, window, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("journal compaction", "err", err, "dropped", dropped)
		case dropped > 0:
			log.Info("journal compacted", "dropped", dropped, "window", window)
		}
		if live != nil {
			// Even a pass that stopped early may have dropped records:
			// the journal's first retained record is the truth.
			if first, _, err := j.Bounds(ctx); err == nil {
				if n := live.ForgetRemovedBefore(first); n > 0 {
					log.Info("projection forgot removed ids", "tombstones", n, "before", first)
				}
			}
		}
	})
}

// checkpoint stores the projection at the head as a snapshot.
func checkpoint(store *projector.Store, j *journal.Journal, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq, err := store.Checkpoint(ctx, j)
	if err != nil {
		log.Error("snapshot at shutdown", "err", err)
		return nil // the journal is whole; the next start just replays more
	}
	log.Info("snapshot at shutdown", "seq", seq)
	return nil
}

// A crash leaves no snapshot at the head: the next start folds every
// record after the newest snapshot, and retention passes (which store
// one) may be far apart or, with journal-retention 0, never run. The
// checkpointer bounds that replay: whenever checkpointEvery records have
// been applied since the newest snapshot, it stores one of the live
// projection (Store.Checkpoint; the state is cloned under the read lock,
// encoded outside it). 100,000 records fold in about a quarter of a second
// (make bench, BenchmarkLoad1M), a day of a busy node's pods.
const (
	checkpointEvery = 100_000
	checkpointPoll  = 5 * time.Second
)

// startCheckpoints checkpoints store into j every `every` records,
// looking every poll.
func startCheckpoints(j *journal.Journal, store *projector.Store, every uint64, poll time.Duration, log *slog.Logger) *periodic {
	last, _, err := j.Snapshot(context.Background(), 0)
	if err != nil {
		last = 0 // none yet (journal.ErrNoSnapshot), or unreadable: count from the start
	}
	return startPeriodic(poll, false, func(ctx context.Context) {
		if store.Seq() < last+every {
			return
		}
		seq, err := store.Checkpoint(ctx, j)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("periodic snapshot", "err", err)
			}
			return
		}
		log.Info("periodic snapshot", "seq", seq, "records since the last", seq-last)
		last = seq
	})
}
