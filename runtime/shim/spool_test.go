package shim

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

func putString(s *spool, v string) bool {
	return s.put(len(v), 1, func(b []byte) []byte { return append(b, v...) })
}

// A consumer slower than the producer, but making progress, loses nothing:
// the producer waits for it.
func TestSpoolBackpressureLosesNothing(t *testing.T) {
	s := newSpool(16, 10*time.Second)
	got := make(chan []byte)
	go func() {
		var all []byte
		for {
			batch, _, ok := s.take(nil)
			if !ok {
				got <- all
				return
			}
			all = append(all, batch...)
			s.recycle(batch)
			time.Sleep(100 * time.Microsecond) // a slow disk
		}
	}()
	var want []byte
	for i := 0; i < 2000; i++ {
		v := strconv.Itoa(i) + ","
		want = append(want, v...)
		if !putString(s, v) {
			t.Fatalf("entry %d dropped", i)
		}
	}
	s.close()
	if all := <-got; !bytes.Equal(all, want) {
		t.Fatalf("consumer got %d bytes, want %d", len(all), len(want))
	}
}

func TestSpoolStallDropsUntilTheConsumerTakes(t *testing.T) {
	s := newSpool(8, 20*time.Millisecond)
	if !putString(s, "aaaa") || !putString(s, "bbbb") {
		t.Fatal("puts within the limit dropped")
	}
	if putString(s, "cccc") {
		t.Fatal("put into a full spool without a consumer succeeded")
	}
	if !s.isStalled() || putString(s, "dddd") {
		t.Fatal("stalled spool still accepts")
	}
	batch, n, ok := s.take(nil)
	if !ok || string(batch) != "aaaabbbb" || n != 2 {
		t.Fatalf("take = %q %d %v", batch, n, ok)
	}
	s.recycle(batch)
	if s.isStalled() || !putString(s, "eeee") {
		t.Fatal("spool did not recover once the consumer took")
	}
	// An oversized put goes into an empty queue only.
	big := string(bytes.Repeat([]byte("x"), 20))
	s.take(nil)
	if !putString(s, big) {
		t.Error("oversized put into an empty spool dropped")
	}
}

func TestSpoolClose(t *testing.T) {
	s := newSpool(64, time.Second)
	putString(s, "a")
	s.putFinal(func(b []byte) []byte { return append(b, "end"...) })
	if putString(s, "late") {
		t.Error("put after putFinal succeeded")
	}
	batch, _, ok := s.take(nil)
	if !ok || string(batch) != "aend" {
		t.Fatalf("take = %q %v", batch, ok)
	}
	if _, _, ok := s.take(nil); ok {
		t.Error("take after the end succeeded")
	}
	abort := make(chan struct{})
	close(abort)
	if _, _, ok := newSpool(64, time.Second).take(abort); ok {
		t.Error("aborted take succeeded")
	}
}
