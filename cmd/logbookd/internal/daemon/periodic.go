package daemon

import (
	"context"
	"sync"
	"time"
)

// periodic is a background job on a timer (image collection, journal
// retention, checkpoints): one goroutine, which stop cancels and waits
// for. A nil *periodic is a job that was never started.
type periodic struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// startPeriodic runs fn every interval, the first time at once when now
// is set, until stop; fn's context ends with stop.
func startPeriodic(interval time.Duration, now bool, fn func(ctx context.Context)) *periodic {
	ctx, cancel := context.WithCancel(context.Background())
	p := &periodic{cancel: cancel}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		if now {
			fn(ctx)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fn(ctx)
		}
	}()
	return p
}

// stop ends the job and waits for a run in progress to return.
func (p *periodic) stop() error {
	if p == nil {
		return nil
	}
	p.cancel()
	p.done.Wait()
	return nil
}
