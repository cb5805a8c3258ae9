package journal

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A real ENOSPC, on a small tmpfs: the commit that does not fit fails its
// appenders with an error that says so, every acknowledged record stays,
// the file stays consistent, and once there is room again the journal goes
// on where it stopped.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	ctx := ctxT(t)
	path := filepath.Join(dir, "journal.db")
	j := openT(t, path, Options{}) // checks the file before the unmount

	var acked []uint64
	var full error
	for i := 0; i < 100000 && full == nil; i++ {
		recs := []Record{testRecord(i), testRecord(i + 1)}
		seq, err := j.Append(ctx, recs...)
		if err != nil {
			full = err
			break
		}
		acked = append(acked, seq)
	}
	if !errors.Is(full, syscall.ENOSPC) || !strings.Contains(full.Error(), path) {
		t.Fatalf("appending to a full disk: %v; want ENOSPC naming %s", full, path)
	}
	if len(acked) == 0 {
		t.Fatal("nothing fit before the disk was full")
	}
	_, last, _ := j.Bounds(ctx)
	if last != acked[len(acked)-1]+1 {
		t.Fatalf("last = %d after a failed commit, want %d", last, acked[len(acked)-1]+1)
	}
	// Reads work on a full disk.
	if got := readAll(t, j, 0, 0); len(got) != int(last) {
		t.Fatalf("read %d records, want %d", len(got), last)
	}
	if err := j.Check(); err != nil {
		t.Fatalf("Check on a full disk: %v", err)
	}

	// Room again: the journal continues densely.
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT, "size=4m"); err != nil {
		t.Fatalf("remount: %v", err)
	}
	seq, err := j.Append(ctx, testRecord(7))
	if err != nil || seq != last+1 {
		t.Fatalf("append after freeing space = %d, %v; want %d", seq, err, last+1)
	}
	got := readAll(t, j, 0, 0)
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
	if err := sameRecord(got[len(got)-1], testRecord(7)); err != nil {
		t.Fatal(err)
	}
}
