package shim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestFramesRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 2*MaxFramePayload+10)
	var stream []byte
	stream = AppendFrame(stream, KindStatus, nil)
	stream = AppendFrames(stream, KindStdout, big)
	stream = AppendFrame(stream, KindStdin, []byte("abc"))
	fr := NewFrameReader(bytes.NewReader(stream))
	var kinds []Kind
	var out []byte
	for {
		k, p, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(p) > MaxFramePayload {
			t.Fatalf("payload of %d bytes", len(p))
		}
		kinds = append(kinds, k)
		if k == KindStdout {
			out = append(out, p...)
		}
	}
	want := []Kind{KindStatus, KindStdout, KindStdout, KindStdout, KindStdin}
	if string(kinds) != string(want) {
		t.Errorf("kinds %q, want %q", kinds, want)
	}
	if !bytes.Equal(out, big) {
		t.Errorf("split payload not rejoined: %d bytes", len(out))
	}
}

func TestFrameErrors(t *testing.T) {
	huge := []byte{byte(KindStdout), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(huge[1:], MaxFramePayload+1)
	if _, _, err := NewFrameReader(bytes.NewReader(huge)).Next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversized frame: %v", err)
	}
	cut := AppendFrame(nil, KindStdout, []byte("hello"))
	if _, _, err := NewFrameReader(bytes.NewReader(cut[:7])).Next(); err != io.ErrUnexpectedEOF {
		t.Errorf("frame cut in its payload: %v", err)
	}
	if _, _, err := NewFrameReader(bytes.NewReader(cut[:3])).Next(); err != io.ErrUnexpectedEOF {
		t.Errorf("frame cut in its header: %v", err)
	}
	if _, _, err := NewFrameReader(bytes.NewReader(nil)).Next(); err != io.EOF {
		t.Errorf("empty stream: %v", err)
	}
}
