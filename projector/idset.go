package projector

import "sync/atomic"

// idSet holds the tombstones: the IDs of removed sandboxes and containers
// (which no sandbox or container may take again), each with the journal
// position of the record that removed it, so that the retention policy
// can forget the ones whose removal it compacts away (forget).
//
// It is the largest part of a long-lived state, so Clone must not copy it.
// Its bulk lives in a base map that is written in place until a clone
// shares it; from then on neither side writes it: each collects its new
// IDs in a small recent map of its own (which Clone does copy) and, when
// recent outgrows a quarter of the base, merges both into a new, unshared
// base. Without clones an insert is one map write; with them, inserts stay
// amortised O(1) and Clone copies at most a quarter of the set. forget
// never writes a base either: it builds a new one of the survivors (once
// per retention pass), which also gives back the memory of the forgotten
// (a Go map never shrinks).
type idSet struct {
	base   *idBase
	recent map[string]uint64
	// oldest is the smallest removal position in the set (0 when empty),
	// so that a forget with nothing to forget costs nothing.
	oldest uint64
}

type idBase struct {
	m map[string]uint64
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

// add records id as removed by the record at seq (> 0).
func (t *idSet) add(id string, seq uint64) {
	if t.oldest == 0 || seq < t.oldest {
		t.oldest = seq
	}
	if t.base == nil {
		t.base = &idBase{m: make(map[string]uint64)}
	}
	if !t.base.shared.Load() {
		t.base.m[id] = seq
		return
	}
	if t.recent == nil {
		t.recent = make(map[string]uint64)
	}
	t.recent[id] = seq
	if len(t.recent) > max(idSetMinRecent, len(t.base.m)/4) {
		merged := make(map[string]uint64, len(t.base.m)+len(t.recent))
		for k, v := range t.base.m {
			merged[k] = v
		}
		for k, v := range t.recent {
			merged[k] = v
		}
		t.base, t.recent = &idBase{m: merged}, nil
	}
}

// forget drops the IDs removed before seq and returns how many it
// dropped. The survivors move to a new, unshared base.
func (t *idSet) forget(seq uint64) int {
	if t.oldest == 0 || t.oldest >= seq {
		return 0
	}
	keep := 0
	t.each(func(_ string, at uint64) {
		if at >= seq {
			keep++
		}
	})
	dropped := t.len() - keep
	if keep == 0 {
		*t = idSet{}
		return dropped
	}
	m := make(map[string]uint64, keep)
	oldest := uint64(0)
	t.each(func(id string, at uint64) {
		if at >= seq {
			m[id] = at
			if oldest == 0 || at < oldest {
				oldest = at
			}
		}
	})
	*t = idSet{base: &idBase{m: m}, oldest: oldest}
	return dropped
}

func (t *idSet) len() int {
	n := len(t.recent)
	if t.base != nil {
		n += len(t.base.m)
	}
	return n
}

// each calls fn for every ID and the position that removed it, in no
// particular order.
func (t *idSet) each(fn func(id string, seq uint64)) {
	if t.base != nil {
		for k, v := range t.base.m {
			fn(k, v)
		}
	}
	for k, v := range t.recent {
		fn(k, v)
	}
}

func (t *idSet) clone() idSet {
	if t.base != nil {
		t.base.shared.Store(true)
	}
	c := idSet{base: t.base, oldest: t.oldest}
	if len(t.recent) > 0 {
		c.recent = make(map[string]uint64, len(t.recent))
		for k, v := range t.recent {
			c.recent[k] = v
		}
	}
	return c
}
