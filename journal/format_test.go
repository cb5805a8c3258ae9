package journal

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// updateGolden rewrites testdata/ instead of comparing against it.
var updateGolden = os.Getenv("LOGBOOK_UPDATE_GOLDEN") == "1"

// goldenRecords are the records pinned by the golden files: fixed times,
// empty and non-empty fields, a multi-byte length prefix.
func goldenRecords() []Record {
	return []Record{
		{Seq: 1, Time: 1700000000123456789, Type: "sandbox.creating", SandboxID: "a1b2c3", Payload: []byte{0x0a, 0x03, 'p', 'o', 'd'}},
		{Seq: 2, Time: 1700000000223456789, Type: "container.created", SandboxID: "a1b2c3", ContainerID: "d4e5f6", Payload: []byte("created")},
		{Seq: 3, Time: 1, Type: "image.pulled"},
		{Seq: 300, Time: -5, Type: "container.exited", ContainerID: strings.Repeat("c", 130), Payload: bytes.Repeat([]byte{0xff}, 3)},
	}
}

const goldenSnapshotSeq = 3

var goldenSnapshot = []byte("projection at 3")

func TestGolden(t *testing.T) {
	var b strings.Builder
	fmt.Fprintln(&b, "# logbook journal, format 1: event and snapshot envelopes (see doc.go).")
	fmt.Fprintln(&b, "# Regenerate only for a deliberate new version: LOGBOOK_UPDATE_GOLDEN=1 go test ./journal -run TestGolden")
	for _, r := range goldenRecords() {
		fmt.Fprintf(&b, "event %d %x\n", r.Seq, appendEnvelope(nil, &r))
	}
	fmt.Fprintf(&b, "snapshot %d %x\n", goldenSnapshotSeq, appendSnapshot(nil, goldenSnapshotSeq, goldenSnapshot))
	path := filepath.Join("testdata", "envelope-v1.golden")
	if updateGolden {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		writeGoldenJournal(t)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with LOGBOOK_UPDATE_GOLDEN=1)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("the envelope encoding changed; old journals would not read back.\ngot:\n%s\nwant:\n%s", b.String(), want)
	}

	// And the other way round: what the golden file holds decodes to the
	// records, so a later build still reads format 1.
	recs := goldenRecords()
	for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		seq, _ := strconv.ParseUint(f[1], 10, 64)
		val, err := hex.DecodeString(f[2])
		if err != nil {
			t.Fatal(err)
		}
		switch f[0] {
		case "event":
			r, err := decodeEnvelope(seqKey(seq), val, nil)
			if err != nil {
				t.Fatalf("golden event %d: %v", seq, err)
			}
			if err := sameRecord(r, recs[0]); err != nil || r.Time != recs[0].Time {
				t.Fatalf("golden event %d decodes to %+v, want %+v", seq, r, recs[0])
			}
			recs = recs[1:]
		case "snapshot":
			data, err := decodeSnapshot(seqKey(seq), val)
			if err != nil || !bytes.Equal(data, goldenSnapshot) {
				t.Fatalf("golden snapshot decodes to %q, %v", data, err)
			}
		}
	}
	if len(recs) != 0 {
		t.Fatalf("golden file lacks %d records", len(recs))
	}

	// A whole version-1 file opens, reads back and accepts appends.
	path = filepath.Join(t.TempDir(), "v1.journal")
	copyFile(t, filepath.Join("testdata", "v1.journal"), path)
	j := openT(t, path, Options{})
	ctx := context.Background()
	if first, last, err := j.Bounds(ctx); first != 1 || last != 300 || err != nil {
		t.Fatalf("testdata/v1.journal bounds %d..%d, %v; want 1..300", first, last, err)
	}
	got := readAll(t, j, 0, 0)
	for _, want := range goldenRecords() {
		if err := sameRecord(got[want.Seq-1], want); err != nil {
			t.Fatalf("testdata/v1.journal: %v", err)
		}
	}
	if at, data, err := j.Snapshot(ctx, 0); at != goldenSnapshotSeq || !bytes.Equal(data, goldenSnapshot) || err != nil {
		t.Fatalf("testdata/v1.journal snapshot = %d %q %v", at, data, err)
	}
	if seq, err := j.Append(ctx, testRecord(1)); seq != 301 || err != nil {
		t.Fatalf("append to testdata/v1.journal = %d, %v; want 301", seq, err)
	}
}

// writeGoldenJournal writes testdata/v1.journal: the golden records, with
// filler records between 3 and 300 so that the sequence stays dense.
func writeGoldenJournal(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "v1.journal")
	j, err := Open(tmp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var recs []Record
	for _, r := range goldenRecords() {
		for uint64(len(recs))+1 < r.Seq {
			recs = append(recs, Record{Time: 7, Type: "filler"})
		}
		recs = append(recs, r)
	}
	if _, err := j.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := j.PutSnapshot(ctx, goldenSnapshotSeq, goldenSnapshot); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	copyFile(t, tmp, filepath.Join("testdata", "v1.journal"))
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEnvelopeRoundTripAndDamage(t *testing.T) {
	for _, r := range goldenRecords() {
		val := appendEnvelope(nil, &r)
		if len(val) != envelopeSize(&r) {
			t.Fatalf("envelopeSize = %d, encoded %d bytes", envelopeSize(&r), len(val))
		}
		got, err := decodeEnvelope(seqKey(r.Seq), val, newInterner())
		if err != nil {
			t.Fatal(err)
		}
		if err := sameRecord(got, r); err != nil || got.Time != r.Time {
			t.Fatalf("round trip: %+v, want %+v (%v)", got, r, err)
		}
		// Every single flipped bit is detected.
		for i := range val {
			for bit := range 8 {
				bad := bytes.Clone(val)
				bad[i] ^= 1 << bit
				if _, err := decodeEnvelope(seqKey(r.Seq), bad, nil); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormatVersion) {
					t.Fatalf("record %d, bit %d of byte %d flipped: %v, want ErrCorrupt", r.Seq, bit, i, err)
				}
			}
		}
		// Every truncation is detected.
		for n := range len(val) {
			if _, err := decodeEnvelope(seqKey(r.Seq), val[:n], nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("record %d truncated to %d bytes: %v, want ErrCorrupt", r.Seq, n, err)
			}
		}
		// A value under the wrong key is detected.
		if _, err := decodeEnvelope(seqKey(r.Seq+1), val, nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("record %d under key %d: %v, want ErrCorrupt", r.Seq, r.Seq+1, err)
		}
	}
}

func TestEnvelopeVersionAndBadLengths(t *testing.T) {
	key := seqKey(9)
	seal := func(body []byte) []byte {
		return append(bytes.Clone(body), byte(recordCRC(key, body)>>24), byte(recordCRC(key, body)>>16), byte(recordCRC(key, body)>>8), byte(recordCRC(key, body)))
	}
	time8 := make([]byte, 8)
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"newer version", append([]byte{2}, time8...), ErrFormatVersion},
		{"no length prefixes", append([]byte{1}, time8...), ErrCorrupt},
		{"type longer than the value", append(append([]byte{1}, time8...), 50, 0, 0), ErrCorrupt},
		{"bad uvarint", append(append([]byte{1}, time8...), 0xff, 0xff, 0xff), ErrCorrupt},
		{"minimal", append(append([]byte{1}, time8...), 1, 't', 0, 0), nil},
	} {
		_, err := decodeEnvelope(key, seal(tc.body), nil)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	snap := appendSnapshot(nil, 9, []byte("s"))
	snap[0] = 2
	binaryFix := seal(snap[:len(snap)-4])
	if _, err := decodeSnapshot(key, binaryFix); !errors.Is(err, ErrFormatVersion) {
		t.Errorf("snapshot v2: %v, want ErrFormatVersion", err)
	}
	if _, err := decodeSnapshot(seqKey(8), appendSnapshot(nil, 9, []byte("s"))); !errors.Is(err, ErrCorrupt) {
		t.Errorf("snapshot under the wrong key: %v, want ErrCorrupt", err)
	}
}

func TestCheckLayout(t *testing.T) {
	ok := layout{state: state{first: 5, last: 9, snapshot: 9}, events: true, evFirst: 5, evLast: 9, snaps: true, snapFirst: 4, snapLast: 9, baseSnap: true}
	for _, tc := range []struct {
		name string
		edit func(*layout)
		bad  bool
	}{
		{"consistent", func(*layout) {}, false},
		{"new journal", func(l *layout) { *l = layout{state: state{first: 1}} }, false},
		{"fully compacted", func(l *layout) { l.first, l.events, l.snapFirst = 10, false, 9 }, false},
		{"leftovers of a compaction", func(l *layout) { l.evFirst = 2 }, false},
		{"first zero", func(l *layout) { l.first = 0 }, true},
		{"first beyond last+1", func(l *layout) { l.first = 11 }, true},
		{"events missing", func(l *layout) { l.events = false }, true},
		{"last event is not meta/last", func(l *layout) { l.evLast = 8 }, true},
		{"first event after meta/first", func(l *layout) { l.evFirst = 6 }, true},
		{"meta/snapshot without snapshots", func(l *layout) { l.snaps = false; l.baseSnap = false; l.first = 1 }, true},
		{"meta/snapshot not the newest", func(l *layout) { l.snapshot = 7 }, true},
		{"snapshot beyond last", func(l *layout) { l.snapLast, l.snapshot = 10, 10 }, true},
		{"no base snapshot", func(l *layout) { l.baseSnap = false }, true},
		{"snapshot older than the base", func(l *layout) { l.snapFirst = 3 }, true},
	} {
		l := ok
		tc.edit(&l)
		err := checkLayout(l)
		if tc.bad != (err != nil) || (err != nil && !errors.Is(err, ErrCorrupt)) {
			t.Errorf("%s: checkLayout = %v, want bad=%v", tc.name, err, tc.bad)
		}
	}
}

func TestRing(t *testing.T) {
	seqs := func(recs []Record) []uint64 {
		var s []uint64
		for _, r := range recs {
			s = append(s, r.Seq)
		}
		return s
	}
	batch := func(from, to uint64) []Record {
		var recs []Record
		for s := from; s <= to; s++ {
			recs = append(recs, Record{Seq: s})
		}
		return recs
	}
	for _, tc := range []struct {
		name   string
		size   int
		pushes [][2]uint64
		from   uint64
		max    int
		want   []uint64
		wantOK bool
	}{
		{"empty", 4, nil, 1, 10, nil, false},
		{"all held", 4, [][2]uint64{{1, 3}}, 1, 10, []uint64{1, 2, 3}, true},
		{"max", 4, [][2]uint64{{1, 3}}, 1, 2, []uint64{1, 2}, true},
		{"beyond the head", 4, [][2]uint64{{1, 3}}, 4, 10, nil, true},
		{"wrapped", 4, [][2]uint64{{1, 3}, {4, 6}}, 3, 10, []uint64{3, 4, 5, 6}, true},
		{"overwritten", 4, [][2]uint64{{1, 3}, {4, 6}}, 2, 10, nil, false},
		{"batch larger than the ring", 4, [][2]uint64{{1, 10}}, 7, 10, []uint64{7, 8, 9, 10}, true},
		{"starts anywhere", 4, [][2]uint64{{100, 101}}, 100, 10, []uint64{100, 101}, true},
		{"gap resets", 4, [][2]uint64{{1, 3}, {6, 6}}, 3, 10, nil, false},
		{"disabled", 0, [][2]uint64{{1, 3}}, 1, 10, nil, false},
	} {
		r := newRing(tc.size)
		for _, p := range tc.pushes {
			r.push(batch(p[0], p[1]))
		}
		got, ok := r.read(nil, tc.from, tc.max)
		if ok != tc.wantOK || fmt.Sprint(seqs(got)) != fmt.Sprint(tc.want) {
			t.Errorf("%s: read(%d, %d) = %v, %v; want %v, %v", tc.name, tc.from, tc.max, seqs(got), ok, tc.want, tc.wantOK)
		}
	}
}

func TestInterner(t *testing.T) {
	in := newInterner()
	a := in.typ([]byte("container.created"))
	b := in.typ([]byte("container.created"))
	if a != "container.created" || a != b || in.typ(nil) != "" {
		t.Fatalf("interner returned %q, %q", a, b)
	}
	if len(in.types) != 1 {
		t.Fatalf("interner holds %d types, want 1", len(in.types))
	}
	for i := range internMax + 10 {
		in.typ([]byte(strconv.Itoa(i)))
	}
	if len(in.types) > internMax {
		t.Fatalf("interner grew to %d types, bound %d", len(in.types), internMax)
	}
	if in.ids([]byte("s1c1")) != "s1c1" || in.ids([]byte("s1c1")) != "s1c1" || in.ids([]byte("s2")) != "s2" {
		t.Fatal("interner IDs")
	}
	var none *interner
	if none.typ([]byte("x")) != "x" || none.ids([]byte("y")) != "y" {
		t.Fatal("nil interner")
	}
}
