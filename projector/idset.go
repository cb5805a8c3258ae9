package projector

// idSet is the set of removed sandbox and container IDs (the tombstones
// that keep a removed ID from being created again). It only grows, so it is
// split in two: a large frozen map that clones share and nobody writes, and
// a small recent map that each clone copies. When recent outgrows a quarter
// of frozen the two are merged into a new frozen map, which keeps Clone
// cheap (it copies only recent) and inserts amortised O(1).
type idSet struct {
	frozen map[string]struct{}
	recent map[string]struct{}
}

const idSetMinRecent = 256

func (t *idSet) has(id string) bool {
	if _, ok := t.recent[id]; ok {
		return true
	}
	_, ok := t.frozen[id]
	return ok
}

func (t *idSet) add(id string) {
	if t.recent == nil {
		t.recent = make(map[string]struct{})
	}
	t.recent[id] = struct{}{}
	if len(t.recent) > max(idSetMinRecent, len(t.frozen)/4) {
		merged := make(map[string]struct{}, len(t.frozen)+len(t.recent))
		for k := range t.frozen {
			merged[k] = struct{}{}
		}
		for k := range t.recent {
			merged[k] = struct{}{}
		}
		t.frozen, t.recent = merged, nil
	}
}

func (t *idSet) len() int { return len(t.frozen) + len(t.recent) }

// each calls fn for every ID, in no particular order.
func (t *idSet) each(fn func(string)) {
	for k := range t.frozen {
		fn(k)
	}
	for k := range t.recent {
		fn(k)
	}
}

func (t *idSet) clone() idSet {
	c := idSet{frozen: t.frozen}
	if len(t.recent) > 0 {
		c.recent = make(map[string]struct{}, len(t.recent))
		for k := range t.recent {
			c.recent[k] = struct{}{}
		}
	}
	return c
}
