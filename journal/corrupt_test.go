package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
)

// wantRefused opens path (read-write, then read-only) and asserts the
// sentinel, the path in the message, and that the file is unchanged.
func wantRefused(t *testing.T, path string, sentinel error) {
	t.Helper()
	before := fileHash(t, path)
	for _, ro := range []bool{false, true} {
		j, err := Open(path, Options{ReadOnly: ro})
		if err == nil {
			j.Close()
			t.Fatalf("Open(%s, read-only %v) succeeded, want %v", path, ro, sentinel)
		}
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Open(read-only %v): %v; want %v naming %s", ro, err, sentinel, path)
		}
	}
	if fileHash(t, path) != before {
		t.Fatalf("%s was modified by a refused Open", path)
	}
}

func TestForeignFiles(t *testing.T) {
	dir := t.TempDir()

	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, bytes.Repeat([]byte("not a database\n"), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, text, ErrForeign)

	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, short, ErrForeign)

	// A bbolt file of another program.
	other := filepath.Join(dir, "other.db")
	writeBolt(t, other, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("settings"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	wantRefused(t, other, ErrForeign)

	// A bbolt file with a meta bucket but another magic.
	magic := filepath.Join(dir, "magic.db")
	writeBolt(t, magic, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keyMagic, []byte("someone-else"))
	})
	wantRefused(t, magic, ErrForeign)

	// An empty bbolt file is not a journal either.
	empty := filepath.Join(dir, "empty.db")
	writeBolt(t, empty, func(*bbolt.Tx) error { return nil })
	wantRefused(t, empty, ErrForeign)

	if _, err := Open(dir, Options{}); !errors.Is(err, ErrForeign) {
		t.Fatalf("Open(directory): %v, want ErrForeign", err)
	}
}

func writeBolt(t *testing.T, path string, fn func(*bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// editMeta changes a journal's file directly, as damage or a newer build
// would.
func editJournal(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedJournalsRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		edit func(tx *bbolt.Tx) error
		want error
	}{
		{"newer format", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyVersion, binary.BigEndian.AppendUint32(nil, formatVersion+1))
		}, ErrFormatVersion},
		{"events bucket missing", func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketEvents) }, ErrCorrupt},
		{"meta/last behind the events", func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyLast, u64(3)) }, ErrCorrupt},
		{"meta/first malformed", func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFirst, []byte{1}) }, ErrCorrupt},
		{"base snapshot missing", func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFirst, u64(3)) }, ErrCorrupt},
		{"last event missing", func(tx *bbolt.Tx) error { return tx.Bucket(bucketEvents).Delete(seqKey(5)) }, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			j, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if _, err := j.Append(ctx, testRecord(i)); err != nil {
					t.Fatal(err)
				}
			}
			j.Close()
			editJournal(t, path, tc.edit)
			wantRefused(t, path, tc.want)
		})
	}
}

// A flipped byte inside a record: Open succeeds (it reads no values), every
// read of the damaged range fails the same way after delivering what
// precedes it, other ranges read fine, and the file is never rewritten.
func TestFlippedByteInRecord(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("THE-DAMAGED-RECORD-PAYLOAD")
	for i := range 20 {
		r := testRecord(i)
		if i == 11 { // seq 12
			r.Payload = marker
		}
		if _, err := j.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.PutSnapshot(ctx, 20, []byte("SNAPSHOT-DATA-XYZ")); err != nil {
		t.Fatal(err)
	}
	j.Close()

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt copies pages on write, so stale copies may sit in free pages:
	// damage every copy.
	flip := func(m []byte) {
		n := 0
		for at := bytes.Index(raw, m); at >= 0; at = bytes.Index(raw, m) {
			raw[at+4] ^= 0x20
			n++
		}
		if n == 0 {
			t.Fatalf("%q not found in the file", m)
		}
	}
	flip(marker)
	flip([]byte("SNAPSHOT-DATA-XYZ"))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, path)

	for _, ro := range []bool{false, true} {
		j, err := Open(path, Options{ReadOnly: ro})
		if err != nil {
			t.Fatalf("Open(read-only %v): %v", ro, err)
		}
		for range 2 { // the same answer every time
			var got []uint64
			err := j.Read(ctx, 0, 0, func(r Record) error { got = append(got, r.Seq); return nil })
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "record 12") {
				t.Fatalf("Read over the damage: %v; want ErrCorrupt naming %s and record 12", err, path)
			}
			if len(got) != 11 || got[10] != 11 {
				t.Fatalf("Read delivered %v before the damage, want 1..11", got)
			}
			if err := j.Read(ctx, 12, 12, func(Record) error { return nil }); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Read(12, 12): %v, want ErrCorrupt", err)
			}
			if rest := readAll(t, j, 13, 0); len(rest) != 8 {
				t.Fatalf("Read after the damage: %d records, want 8", len(rest))
			}
		}
		cur, err := j.Tail(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []uint64{10, 11} {
			if r, err := cur.Next(ctx); err != nil || r.Seq != want {
				t.Fatalf("tail before the damage: %d, %v; want %d", r.Seq, err, want)
			}
		}
		if _, err := cur.Next(ctx); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("tail over the damage: %v, want ErrCorrupt", err)
		}
		if _, err := cur.Next(ctx); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("tail after the damage: %v, want ErrCorrupt again", err)
		}
		cur.Close()
		if _, _, err := j.Snapshot(ctx, 0); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Fatalf("damaged snapshot: %v, want ErrCorrupt naming the file", err)
		}
		if err := j.Check(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "record 12") {
			t.Fatalf("Check: %v, want ErrCorrupt naming record 12", err)
		}
		j.Close()
	}
	if fileHash(t, path) != before {
		t.Fatal("the damaged file was modified")
	}
}
