package runtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockExcludesWritersAndReaders(t *testing.T) {
	var l Locks
	ctx := context.Background()
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := l.Lock(ctx, "a")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			if n > maxInside.Load() {
				maxInside.Store(n)
			}
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Fatalf("%d writers inside at once", maxInside.Load())
	}
	if l.held() != 0 {
		t.Fatalf("%d keys left after every holder released", l.held())
	}
}

func TestReadersShareAndBlockWriter(t *testing.T) {
	var l Locks
	ctx := context.Background()
	r1, err := l.RLock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.RLock(ctx, "k")
	if err != nil {
		t.Fatal("second reader blocked:", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(short, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("writer got in beside readers: %v", err)
	}
	got := make(chan struct{})
	go func() {
		unlock, err := l.Lock(ctx, "k")
		if err == nil {
			unlock()
		}
		close(got)
	}()
	r1()
	r2()
	<-got // the writer gets in once both readers left
	if l.held() != 0 {
		t.Fatalf("%d keys left", l.held())
	}
}

func TestOtherKeysDoNotWait(t *testing.T) {
	var l Locks
	ctx := context.Background()
	unlock, _ := l.Lock(ctx, "a")
	defer unlock()
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	u2, err := l.Lock(short, "b")
	if err != nil {
		t.Fatalf("key b waited for key a: %v", err)
	}
	u2()
}

func TestWaitingWriterHoldsOffNewReaders(t *testing.T) {
	var l Locks
	ctx := context.Background()
	r1, _ := l.RLock(ctx, "k")
	writerIn := make(chan func())
	go func() {
		unlock, _ := l.Lock(ctx, "k")
		writerIn <- unlock
	}()
	// Wait until the writer is registered as waiting.
	for {
		l.mu.Lock()
		w := l.m["k"].writersWaiting
		l.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.RLock(short, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a new reader overtook a waiting writer: %v", err)
	}
	r1()
	(<-writerIn)()
}

func TestNames(t *testing.T) {
	var n Names
	if err := n.Reserve("pod_ns_uid_1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := n.Reserve("pod_ns_uid_1", "a"); err != nil {
		t.Fatal("holder re-reserving its own name:", err)
	}
	if err := n.Reserve("pod_ns_uid_1", "b"); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	n.Release("pod_ns_uid_1", "b") // not the holder: no effect
	if id, _ := n.Holder("pod_ns_uid_1"); id != "a" {
		t.Fatalf("holder %q after a foreign release", id)
	}
	n.Release("pod_ns_uid_1", "a")
	if err := n.Reserve("pod_ns_uid_1", "b"); err != nil {
		t.Fatal("released name not free:", err)
	}
}
