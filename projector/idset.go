package projector

import "sync/atomic"

// idSet is the set of removed sandbox and container IDs (the tombstones
// that keep a removed ID from being created again). It only grows, and it
// is by far the largest part of a long-lived state, so Clone must not copy
// it. Its bulk lives in a base map that is written in place until a clone
// shares it; from then on neither side writes it: each collects its new
// IDs in a small recent map of its own (which Clone does copy) and, when
// recent outgrows a quarter of the base, merges both into a new, unshared
// base. Without clones an insert is one map write; with them, inserts stay
// amortised O(1) and Clone copies at most a quarter of the set.
type idSet struct {
	base   *idBase
	recent map[string]struct{}
}

type idBase struct {
	m map[string]struct{}
	// shared is set by the first Clone that shares m, possibly under the
	// Store's read lock (hence atomic); m is read-only from then on.
	shared atomic.Bool
}

const idSetMinRecent = 256

func (t *idSet) has(id string) bool {
	if _, ok := t.recent[id]; ok {
		return true
	}
	if t.base == nil {
		return false
	}
	_, ok := t.base.m[id]
	return ok
}

func (t *idSet) add(id string) {
	if t.base == nil {
		t.base = &idBase{m: make(map[string]struct{})}
	}
	if !t.base.shared.Load() {
		t.base.m[id] = struct{}{}
		return
	}
	if t.recent == nil {
		t.recent = make(map[string]struct{})
	}
	t.recent[id] = struct{}{}
	if len(t.recent) > max(idSetMinRecent, len(t.base.m)/4) {
		merged := make(map[string]struct{}, len(t.base.m)+len(t.recent))
		for k := range t.base.m {
			merged[k] = struct{}{}
		}
		for k := range t.recent {
			merged[k] = struct{}{}
		}
		t.base, t.recent = &idBase{m: merged}, nil
	}
}

func (t *idSet) len() int {
	n := len(t.recent)
	if t.base != nil {
		n += len(t.base.m)
	}
	return n
}

// each calls fn for every ID, in no particular order.
func (t *idSet) each(fn func(string)) {
	if t.base != nil {
		for k := range t.base.m {
			fn(k)
		}
	}
	for k := range t.recent {
		fn(k)
	}
}

func (t *idSet) clone() idSet {
	if t.base != nil {
		t.base.shared.Store(true)
	}
	c := idSet{base: t.base}
	if len(t.recent) > 0 {
		c.recent = make(map[string]struct{}, len(t.recent))
		for k := range t.recent {
			c.recent[k] = struct{}{}
		}
	}
	return c
}
