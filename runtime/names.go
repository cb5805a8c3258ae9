package runtime

import (
	"fmt"
	"sync"
)

// Names reserves the names of sandboxes and containers so that two
// concurrent creations of the same (name, namespace, uid, attempt) cannot
// both succeed: the first reserves it before journaling its intent, the
// second gets ErrAlreadyExists naming the holder. A name is released when
// its object is removed or its creation rolled back. At start-up the
// reservations are rebuilt from the projection.
type Names struct {
	mu    sync.Mutex
	names map[string]string // name -> holder ID; guarded by mu
}

// Reserve gives name to id; reserving a name id already holds succeeds.
func (n *Names) Reserve(name, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.names == nil {
		n.names = make(map[string]string)
	}
	if holder, ok := n.names[name]; ok && holder != id {
		return fmt.Errorf("name %q is reserved for %s: %w", name, holder, ErrAlreadyExists)
	}
	n.names[name] = id
	return nil
}

// Release frees name if id holds it.
func (n *Names) Release(name, id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.names[name] == id {
		delete(n.names, name)
	}
}

// Holder returns the ID holding name.
func (n *Names) Holder(name string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	id, ok := n.names[name]
	return id, ok
}
