package projector

import (
	"fmt"
	"slices"
	"testing"
)

// Clones of a tombstone set are independent whatever the interleaving of
// inserts, clones and merges; checked against a plain map per copy.
func TestIDSetClonesAreIndependent(t *testing.T) {
	type copy struct {
		set  idSet
		want map[string]bool
	}
	copies := []*copy{{want: map[string]bool{}}}
	n := 0
	for step := range 5000 {
		c := copies[step%len(copies)]
		id := fmt.Sprint("id", n)
		n++
		c.set.add(id, uint64(n))
		c.want[id] = true
		if step%397 == 0 { // clone now and then, from any copy
			w := make(map[string]bool, len(c.want))
			for k := range c.want {
				w[k] = true
			}
			copies = append(copies, &copy{set: c.set.clone(), want: w})
		}
	}
	for i, c := range copies {
		var got []string
		c.set.each(func(id string, _ uint64) { got = append(got, id) })
		var want []string
		for k := range c.want {
			want = append(want, k)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || c.set.len() != len(want) {
			t.Fatalf("copy %d holds %d ids, want %d", i, len(got), len(want))
		}
		for k := range c.want {
			if !c.set.has(k) {
				t.Fatalf("copy %d lost %s", i, k)
			}
		}
		if c.set.has(fmt.Sprint("id", n)) {
			t.Fatalf("copy %d has an id never added", i)
		}
	}
	if len(copies) < 10 {
		t.Fatalf("only %d copies", len(copies))
	}
}
