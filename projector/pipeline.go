package projector

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/logbook-cri/logbook/journal"
)

// foldRange folds the records from..to of src into s, decoding in parallel:
// a restart spends about half of its replay decoding payloads, which needs
// no state, while applying must stay in order on one goroutine. One
// goroutine reads, a pool decodes batches, and the caller applies them in
// order; with onSkip nil the first record that cannot be folded ends it
// with an error matching ErrUnfoldable.
func (s *State) foldRange(ctx context.Context, src Replayer, from, to uint64, onSkip func(journal.Record, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type batch struct {
		recs []journal.Record
		evs  []Event
		errs []error
		done chan struct{}
	}
	const batchSize = 512
	workers := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *batch, workers*2)
	ordered := make(chan *batch, workers*2)

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				b.evs = make([]Event, len(b.recs))
				b.errs = make([]error, len(b.recs))
				for i, r := range b.recs {
					b.evs[i], b.errs[i] = Decode(r)
				}
				close(b.done)
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(work)
		cur := &batch{done: make(chan struct{})}
		send := func() error {
			select {
			case work <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case ordered <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			cur = &batch{done: make(chan struct{})}
			return nil
		}
		err := src.Read(ctx, from, to, func(r journal.Record) error {
			cur.recs = append(cur.recs, r)
			if len(cur.recs) == batchSize {
				return send()
			}
			return nil
		})
		if err == nil && len(cur.recs) > 0 {
			err = send()
		}
		readErr <- err
	}()

	var applyErr error
	for b := range ordered {
		<-b.done
		if applyErr != nil {
			continue // drain, so the reader and the pool can finish
		}
		for i, r := range b.recs {
			err := b.errs[i]
			if err == nil {
				err = s.Apply(b.evs[i])
			}
			if err == nil {
				continue
			}
			if onSkip == nil {
				applyErr = fmt.Errorf("%w: record %d (%s): %w", ErrUnfoldable, r.Seq, r.Type, err)
				cancel()
				break
			}
			onSkip(r, err)
			s.skip(r.Seq)
		}
	}
	wg.Wait()
	if err := <-readErr; applyErr == nil && err != nil {
		return err
	}
	return applyErr
}
