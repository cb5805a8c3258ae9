package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzDecodeEnvelope attacks the event envelope decoder three ways at once,
// from one input:
//
//   - key and val as found on disk: whatever they are, decoding never
//     panics and fails only with ErrCorrupt or ErrFormatVersion;
//   - val with a checksum that matches (computed here, so the fuzzer gets
//     past the CRC into the field parser): an envelope that decodes
//     re-encodes to exactly the same bytes, so there is one encoding per
//     record and nothing a reader accepts is lost on a rewrite;
//   - a record built from the same input, encoded, then damaged in one
//     byte: the intact value decodes back to the record, and the damaged
//     one (or the intact one under another key) is refused as ErrCorrupt.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, r := range goldenRecords() {
		f.Add(seqKey(r.Seq), appendEnvelope(nil, &r), uint16(3), byte(0x01))
	}
	f.Add([]byte{}, []byte{}, uint16(0), byte(0))
	f.Add(seqKey(7), []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x00, 0, 0}, uint16(9), byte(0x80))
	f.Add(seqKey(1), bytes.Repeat([]byte{0xff}, 40), uint16(1), byte(0xff))

	f.Fuzz(func(t *testing.T, key, val []byte, at uint16, flip byte) {
		// 1. Raw bytes from disk.
		if _, err := decodeEnvelope(key, val, newInterner()); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormatVersion) {
			t.Fatalf("raw value: error of no class: %v", err)
		}

		// 2. The same bytes as a body with a valid checksum.
		k := seqKey(binary.BigEndian.Uint64(append(bytes.Clone(key), make([]byte, 8)...)))
		sealed := binary.BigEndian.AppendUint32(bytes.Clone(val), recordCRC(k, val))
		if r, err := decodeEnvelope(k, sealed, nil); err == nil {
			if again := appendEnvelope(nil, &r); !bytes.Equal(again, sealed) {
				t.Fatalf("decoded %+v re-encodes to\n%x\nnot\n%x", r, again, sealed)
			}
			if envelopeSize(&r) != len(sealed) {
				t.Fatalf("envelopeSize %d, encoding %d bytes", envelopeSize(&r), len(sealed))
			}
		} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormatVersion) {
			t.Fatalf("sealed value: error of no class: %v", err)
		}

		// 3. A record made of the input, encoded, then damaged.
		rec := Record{Seq: binary.BigEndian.Uint64(k), Time: int64(len(val)) - int64(at), Payload: val}
		if n := len(key); n > 0 {
			rec.Type = string(key[:n/2])
			rec.SandboxID = string(key[n/2:])
			rec.ContainerID = string(val[:min(len(val), int(at)%64)])
		}
		enc := appendEnvelope(nil, &rec)
		got, err := decodeEnvelope(k, enc, newInterner())
		if err != nil {
			t.Fatalf("record %+v does not decode: %v", rec, err)
		}
		if err := sameRecord(got, rec); err != nil || got.Time != rec.Time {
			t.Fatalf("round trip: %v (time %d, want %d)", err, got.Time, rec.Time)
		}
		if flip != 0 {
			bad := bytes.Clone(enc)
			bad[int(at)%len(bad)] ^= flip
			if _, err := decodeEnvelope(k, bad, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d xor %#x: %v, want ErrCorrupt", int(at)%len(bad), flip, err)
			}
			other := seqKey(rec.Seq ^ uint64(flip))
			if _, err := decodeEnvelope(other, enc, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("value under key %x: %v, want ErrCorrupt", other, err)
			}
		}
	})
}

// TestDecodeEnvelopeOneEncoding: a length prefix padded with a zero
// continuation byte (0x80 0x00 for 0) has a valid checksum here but is not
// what appendEnvelope writes; it is refused, so every record has exactly
// one encoding.
func TestDecodeEnvelopeOneEncoding(t *testing.T) {
	k := seqKey(7)
	for _, body := range [][]byte{
		{1, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x00, 0, 0},
		{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x81, 0x00, 'a', 0},
		{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x80, 0x80, 0x00},
	} {
		val := binary.BigEndian.AppendUint32(bytes.Clone(body), recordCRC(k, body))
		if r, err := decodeEnvelope(k, val, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: decoded %+v, %v; want ErrCorrupt", body, r, err)
		}
	}
	canonical := []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0}
	val := binary.BigEndian.AppendUint32(bytes.Clone(canonical), recordCRC(k, canonical))
	if r, err := decodeEnvelope(k, val, nil); err != nil || r.SandboxID != "a" {
		t.Errorf("canonical %x: %+v, %v", canonical, r, err)
	}
}
