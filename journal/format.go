package journal

// The on-disk format, as pure functions: keys, meta values and the two
// envelopes (events and snapshots). doc.go describes the layout; the golden
// file in testdata/ pins it.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	// formatMagic is the value of meta/magic: it tells a logbook journal
	// apart from any other bbolt file.
	formatMagic = "logbook-journal"
	// formatVersion is the value of meta/version (big-endian uint32). A
	// file with a higher version was written by a newer logbook.
	formatVersion uint32 = 1

	// envelopeV1 is the version byte of event values written by this build.
	envelopeV1 byte = 1
	// snapshotV1 is the version byte of snapshot values.
	snapshotV1 byte = 1

	crcLen = 4
	// minEnvelopeLen: version, time, three empty length prefixes, crc.
	minEnvelopeLen = 1 + 8 + 3 + crcLen
)

var (
	bucketMeta      = []byte("meta")
	bucketEvents    = []byte("events")
	bucketSnapshots = []byte("snapshots")

	keyMagic    = []byte("magic")
	keyVersion  = []byte("version")
	keyFirst    = []byte("first")
	keyLast     = []byte("last")
	keySnapshot = []byte("snapshot")

	// castagnoli is CRC32C, hardware-accelerated on amd64 and arm64. It is
	// an immutable table, not state.
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// seqKey is the bbolt key of sequence number seq: big-endian, so bbolt's
// byte order is log order and a cursor walks the journal front to back.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// keySeq parses a key written by seqKey.
func keySeq(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// u64 encodes a meta counter.
func u64(v uint64) []byte { return seqKey(v) }

// parseU64 decodes a meta counter; a missing or malformed value is an error.
func parseU64(name string, v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: meta/%s is %d bytes, want 8", ErrCorrupt, name, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// recordCRC is the checksum of an event or snapshot: over the key, so a
// value found under the wrong sequence number fails too, then over every
// byte of the value before the checksum itself.
func recordCRC(key, body []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, key), castagnoli, body)
}

// appendEnvelope appends the v1 envelope of r (whose Seq must be set) to dst.
func appendEnvelope(dst []byte, r *Record) []byte {
	start := len(dst)
	dst = append(dst, envelopeV1)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Time))
	dst = binary.AppendUvarint(dst, uint64(len(r.Type)))
	dst = append(dst, r.Type...)
	dst = binary.AppendUvarint(dst, uint64(len(r.SandboxID)))
	dst = append(dst, r.SandboxID...)
	dst = binary.AppendUvarint(dst, uint64(len(r.ContainerID)))
	dst = append(dst, r.ContainerID...)
	dst = append(dst, r.Payload...)
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], r.Seq)
	return binary.BigEndian.AppendUint32(dst, recordCRC(key[:], dst[start:]))
}

// envelopeSize is len(appendEnvelope(nil, r)), for sizing buffers.
func envelopeSize(r *Record) int {
	return minEnvelopeLen - 3 +
		uvarintLen(len(r.Type)) + len(r.Type) +
		uvarintLen(len(r.SandboxID)) + len(r.SandboxID) +
		uvarintLen(len(r.ContainerID)) + len(r.ContainerID) +
		len(r.Payload)
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// checkCRC verifies the trailing checksum of a value stored under key and
// returns the body before it.
func checkCRC(key, val []byte) ([]byte, error) {
	if len(val) < 1+crcLen {
		return nil, fmt.Errorf("%w: value of %d bytes is too short", ErrCorrupt, len(val))
	}
	body, sum := val[:len(val)-crcLen], binary.BigEndian.Uint32(val[len(val)-crcLen:])
	if got := recordCRC(key, body); got != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x)", ErrCorrupt, sum, got)
	}
	return body, nil
}

// decodeEnvelope parses the value stored under key into a Record that owns
// its memory (bbolt's memory is only valid inside the transaction). in, when
// not nil, shares the strings of repeated types and IDs.
func decodeEnvelope(key, val []byte, in *interner) (Record, error) {
	seq, ok := keySeq(key)
	if !ok {
		return Record{}, fmt.Errorf("%w: event key of %d bytes", ErrCorrupt, len(key))
	}
	body, err := checkCRC(key, val)
	if err != nil {
		return Record{}, err
	}
	if body[0] != envelopeV1 {
		return Record{}, fmt.Errorf("%w: envelope version %d (this build reads %d)", ErrFormatVersion, body[0], envelopeV1)
	}
	if len(body) < minEnvelopeLen-crcLen {
		return Record{}, fmt.Errorf("%w: envelope of %d bytes is too short", ErrCorrupt, len(val))
	}
	r := Record{Seq: seq, Time: int64(binary.BigEndian.Uint64(body[1:9]))}
	// fields[i] is the [start, end) of type, sandbox id and container id.
	var fields [3][2]int
	at := 9
	for i := range fields {
		n, w := binary.Uvarint(body[at:])
		// A length in more bytes than it needs (a last byte of zero) is
		// refused: the writer never makes one, and accepting it would give
		// a record two encodings.
		if w <= 0 || n > uint64(len(body)-at-w) || w > 1 && body[at+w-1] == 0 {
			return Record{}, fmt.Errorf("%w: envelope field %d has a bad length", ErrCorrupt, i)
		}
		fields[i] = [2]int{at + w, at + w + int(n)}
		at += w + int(n)
	}
	r.Type = in.typ(body[fields[0][0]:fields[0][1]])
	// Both IDs come from one string (one allocation): the bytes from the
	// sandbox ID to the end of the container ID, length prefix included.
	if span := body[fields[1][0]:fields[2][1]]; len(span) > 1 {
		ids := in.ids(span)
		r.SandboxID = ids[:fields[1][1]-fields[1][0]]
		r.ContainerID = ids[fields[2][0]-fields[1][0]:]
	}
	if rest := body[at:]; len(rest) > 0 {
		r.Payload = append([]byte(nil), rest...)
	}
	return r, nil
}

// appendSnapshot appends the v1 snapshot value of data taken at seq.
func appendSnapshot(dst []byte, seq uint64, data []byte) []byte {
	start := len(dst)
	dst = append(dst, snapshotV1)
	dst = append(dst, data...)
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], seq)
	return binary.BigEndian.AppendUint32(dst, recordCRC(key[:], dst[start:]))
}

// decodeSnapshot verifies a snapshot value and returns a copy of its data.
func decodeSnapshot(key, val []byte) ([]byte, error) {
	if _, ok := keySeq(key); !ok {
		return nil, fmt.Errorf("%w: snapshot key of %d bytes", ErrCorrupt, len(key))
	}
	body, err := checkCRC(key, val)
	if err != nil {
		return nil, err
	}
	if body[0] != snapshotV1 {
		return nil, fmt.Errorf("%w: snapshot version %d (this build reads %d)", ErrFormatVersion, body[0], snapshotV1)
	}
	return append([]byte{}, body[1:]...), nil
}

// interner shares the strings of a read: a replay sees a handful of types
// (kept in a bounded map) and often several events of one object in a row
// (the previous IDs are reused when they repeat), so most decodes allocate
// only the IDs and the payload. A nil interner allocates every string.
type interner struct {
	types   map[string]string
	lastIDs string
}

const internMax = 1024

func newInterner() *interner { return &interner{types: make(map[string]string)} }

func (in *interner) typ(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if in == nil {
		return string(b)
	}
	if s, ok := in.types[string(b)]; ok {
		return s
	}
	if len(in.types) >= internMax {
		clear(in.types)
	}
	s := string(b)
	in.types[s] = s
	return s
}

func (in *interner) ids(b []byte) string {
	if in == nil {
		return string(b)
	}
	if in.lastIDs != string(b) {
		in.lastIDs = string(b)
	}
	return in.lastIDs
}
