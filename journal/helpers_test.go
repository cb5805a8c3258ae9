package journal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// openT opens a journal for a test and, in t.Cleanup, closes it and checks
// the file it leaves: bbolt's consistency and the journal's invariants.
func openT(t testing.TB, path string, opts Options) *Journal {
	t.Helper()
	j, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := j.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkFile(t, path)
	})
	return j
}

// newT opens a fresh journal in t.TempDir().
func newT(t testing.TB, opts Options) *Journal {
	t.Helper()
	return openT(t, filepath.Join(t.TempDir(), "journal.db"), opts)
}

// checkFile opens path read-only and runs Check.
func checkFile(t testing.TB, path string) {
	t.Helper()
	j, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Errorf("check %s: open: %v", path, err)
		return
	}
	defer j.Close()
	if err := j.Check(); err != nil {
		t.Errorf("check %s: %v", path, err)
	}
}

// testRecord is a realistic record: a ~200-byte payload derived from i, so
// that any record can be recomputed and compared.
func testRecord(i int) Record {
	return Record{
		Type:        []string{"container.created", "container.started", "container.exited", "sandbox.ready"}[i%4],
		SandboxID:   fmt.Sprintf("%064x", i/8),
		ContainerID: fmt.Sprintf("%064x", i),
		Payload:     testPayload(i, 200),
	}
}

func testPayload(i, n int) []byte {
	b := make([]byte, n)
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	for k := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[k] = byte(x)
	}
	return b
}

// sameRecord reports how got differs from want, ignoring Seq and Time
// unless want sets them.
func sameRecord(got, want Record) error {
	switch {
	case want.Seq != 0 && got.Seq != want.Seq:
		return fmt.Errorf("seq %d, want %d", got.Seq, want.Seq)
	case want.Time != 0 && got.Time != want.Time:
		return fmt.Errorf("record %d: time %d, want %d", got.Seq, got.Time, want.Time)
	case got.Type != want.Type || got.SandboxID != want.SandboxID || got.ContainerID != want.ContainerID:
		return fmt.Errorf("record %d: (%q %q %q), want (%q %q %q)", got.Seq, got.Type, got.SandboxID, got.ContainerID, want.Type, want.SandboxID, want.ContainerID)
	case !bytes.Equal(got.Payload, want.Payload):
		return fmt.Errorf("record %d: payload differs", got.Seq)
	}
	return nil
}

// readAll reads from..to and fails the test on error.
func readAll(t testing.TB, src Source, from, to uint64) []Record {
	t.Helper()
	var out []Record
	if err := src.Read(context.Background(), from, to, func(r Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("Read(%d, %d): %v", from, to, err)
	}
	return out
}

func fileHash(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
