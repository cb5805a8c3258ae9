package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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

// retention runs projector.Compact on a timer; it owns one goroutine,
// which stop ends and waits for.
type retention struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// startRetention starts the policy; a zero window keeps every event and
// starts nothing. After each pass the live store (when not nil) forgets
// the tombstones of the objects whose removal records are no longer
// retained, as a restart's Load would, so its memory stays bounded by the
// window.
func startRetention(j *journal.Journal, live *projector.Store, window time.Duration, log *slog.Logger) *retention {
	ctx, cancel := context.WithCancel(context.Background())
	r := &retention{cancel: cancel}
	if window <= 0 {
		return r
	}
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		t := time.NewTicker(retentionInterval)
		defer t.Stop()
		for {
			// The first run comes at once: a daemon restarted after a long
			// time compacts before it serves for long.
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
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return r
}

func (r *retention) stop() error {
	r.cancel()
	r.done.Wait()
	return nil
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

// checkpointer owns one goroutine, which stop ends and waits for.
type checkpointer struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// startCheckpoints checkpoints store into j every `every` records,
// looking every poll.
func startCheckpoints(j *journal.Journal, store *projector.Store, every uint64, poll time.Duration, log *slog.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{cancel: cancel}
	last, _, err := j.Snapshot(ctx, 0)
	if err != nil {
		last = 0 // none yet (journal.ErrNoSnapshot), or unreadable: count from the start
	}
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if store.Seq() < last+every {
				continue
			}
			seq, err := store.Checkpoint(ctx, j)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("periodic snapshot", "err", err)
				}
				continue
			}
			log.Info("periodic snapshot", "seq", seq, "records since the last", seq-last)
			last = seq
		}
	}()
	return c
}

func (c *checkpointer) stop() error {
	c.cancel()
	c.done.Wait()
	return nil
}
