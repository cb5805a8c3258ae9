package runtime

import (
	"context"
	"sync"
)

// Locks serialises operations per object without a global lock: one
// reader/writer lock per key (a sandbox or container ID), created on first
// use and dropped when nobody holds or waits for it, so the map holds only
// the keys in use. Waiting honours the caller's context.
//
// Container operations hold their container's key exclusively and their
// sandbox's key shared; sandbox stop and remove hold the sandbox's key
// exclusively, so no container is created in a sandbox being stopped.
type Locks struct {
	mu sync.Mutex
	m  map[string]*keyLock // guarded by mu
}

// keyLock is the state of one key; every field is guarded by Locks.mu.
type keyLock struct {
	readers        int
	writer         bool
	writersWaiting int           // new readers wait while a writer does (no starvation)
	refs           int           // holders and waiters; the entry goes at zero
	changed        chan struct{} // closed and replaced on every release
}

// Lock takes key exclusively and returns the unlock function, or ctx's
// error if ctx ends first.
func (l *Locks) Lock(ctx context.Context, key string) (func(), error) {
	return l.acquire(ctx, key, true)
}

// RLock takes key shared.
func (l *Locks) RLock(ctx context.Context, key string) (func(), error) {
	return l.acquire(ctx, key, false)
}

func (l *Locks) acquire(ctx context.Context, key string, write bool) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*keyLock)
	}
	k := l.m[key]
	if k == nil {
		k = &keyLock{changed: make(chan struct{})}
		l.m[key] = k
	}
	k.refs++
	if write {
		k.writersWaiting++
	}
	for {
		free := !k.writer && (write && k.readers == 0 || !write && k.writersWaiting == 0)
		if free {
			if write {
				k.writersWaiting--
				k.writer = true
			} else {
				k.readers++
			}
			l.mu.Unlock()
			return func() { l.release(key, k, write) }, nil
		}
		wait := k.changed
		l.mu.Unlock()
		select {
		case <-wait:
			l.mu.Lock()
		case <-ctx.Done():
			l.mu.Lock()
			if write {
				k.writersWaiting--
			}
			l.drop(key, k)
			l.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

func (l *Locks) release(key string, k *keyLock, write bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if write {
		k.writer = false
	} else {
		k.readers--
	}
	l.drop(key, k)
}

// drop forgets one reference and wakes the waiters; l.mu is held.
func (l *Locks) drop(key string, k *keyLock) {
	k.refs--
	close(k.changed)
	k.changed = make(chan struct{})
	if k.refs == 0 {
		delete(l.m, key)
	}
}

// held reports how many keys have an entry (for tests).
func (l *Locks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
