package image

import (
	"context"
	"sync"
)

// group runs one piece of work per key for all the callers that ask for it
// while it is in flight (a singleflight whose work outlives any one
// caller). The work runs in a goroutine the store owns, under a context
// derived from the store's: it is cancelled when the store closes, or when
// every caller waiting for it has given up. A key whose work has finished
// is free again: the next caller starts new work.
type group[V any] struct {
	base  context.Context
	spawn func(func()) // runs a function in a goroutine the store waits for on Close
	// release, when set, is called once with the value of successful work
	// after its last waiter has left: the work may hold something (a
	// lease) until every waiter has taken what it needs.
	release func(V)

	mu    sync.Mutex
	calls map[string]*call[V] // guarded by mu
}

type call[V any] struct {
	key     string
	cancel  context.CancelFunc
	done    chan struct{} // closed when the work has returned
	waiters int           // guarded by group.mu
	val     V             // written before done is closed
	err     error
}

func newGroup[V any](base context.Context, spawn func(func()), release func(V)) *group[V] {
	return &group[V]{base: base, spawn: spawn, release: release, calls: map[string]*call[V]{}}
}

// Do returns the result of fn for key, starting fn unless work for key is
// in flight. If the result is a success and adopt is set, adopt runs in
// this caller before the work's value can be released. When ctx ends first
// Do returns ctx's error, and the work goes on for the other waiters.
func (g *group[V]) Do(ctx context.Context, key string, fn func(context.Context) (V, error), adopt func(V)) (V, error) {
	var zero V
	g.mu.Lock()
	c, ok := g.calls[key]
	if !ok {
		if g.base.Err() != nil {
			g.mu.Unlock()
			return zero, ctxError(g.base)
		}
		wctx, cancel := context.WithCancel(g.base)
		c = &call[V]{key: key, cancel: cancel, done: make(chan struct{})}
		g.calls[key] = c
		g.spawn(func() {
			v, err := fn(wctx)
			g.mu.Lock()
			c.val, c.err = v, err
			if g.calls[key] == c {
				delete(g.calls, key)
			}
			close(c.done)
			orphan := c.waiters == 0
			g.mu.Unlock()
			if orphan {
				g.finish(c)
			}
		})
	}
	c.waiters++
	g.mu.Unlock()

	select {
	case <-c.done:
		if c.err == nil && adopt != nil {
			adopt(c.val)
		}
		g.leave(c)
		return c.val, c.err
	case <-ctx.Done():
		g.leave(c)
		return zero, ctx.Err()
	}
}

// leave drops one waiter. The last one to leave finishes finished work, or
// cancels work still running (which then finishes itself); cancelled work
// leaves the map at once, so that a caller arriving now starts afresh
// instead of joining work that is being torn down.
func (g *group[V]) leave(c *call[V]) {
	g.mu.Lock()
	c.waiters--
	last := c.waiters == 0
	finished := false
	select {
	case <-c.done:
		finished = true
	default:
	}
	if last && !finished && g.calls[c.key] == c {
		delete(g.calls, c.key)
	}
	g.mu.Unlock()
	switch {
	case last && finished:
		g.finish(c)
	case last:
		c.cancel()
	}
}

func (g *group[V]) finish(c *call[V]) {
	c.cancel()
	if c.err == nil && g.release != nil {
		g.release(c.val)
	}
}

// waiting reports how many callers wait for key (tests use it to know that
// concurrent callers have joined).
func (g *group[V]) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}
