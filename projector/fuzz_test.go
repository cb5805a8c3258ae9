package projector

import (
	"bytes"
	"errors"
	"testing"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

// Decode and Apply of arbitrary records never panic; a refused record
// leaves the state exactly as it was and says why with one of the package's
// (or the schema's) sentinels; an accepted one leaves a consistent state (a
// snapshot of it loads, which rebuilds and checks every index).
func FuzzDecodeApply(f *testing.F) {
	base := goldenState(f)
	baseBytes, err := base.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	// Seeds: one well-formed record of every type, against the objects of
	// the base state, plus the records that built it.
	for _, typ := range events.Types() {
		sid, cid, id := "aaa1", "", "aaa1"
		switch aggregate(typ) {
		case "container":
			cid, id = "c-run", "c-run"
		case "image":
			sid, id = "", imageID(5)
		}
		_, b, err := events.Encode(samplePayload(typ, id))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(typ), sid, cid, b, uint8(1))
	}
	for _, r := range filterFixture(f).recs {
		f.Add(r.Type, r.SandboxID, r.ContainerID, r.Payload, uint8(1))
	}

	f.Fuzz(func(t *testing.T, typ, sid, cid string, payload []byte, delta uint8) {
		s := base.Clone()
		r := journal.Record{Seq: base.Seq() + uint64(delta), Time: timeOf(base.Seq() + 1), Type: typ, SandboxID: sid, ContainerID: cid, Payload: payload}
		e, err := Decode(r)
		if err == nil {
			err = s.Apply(e)
		}
		after, merr := s.MarshalBinary()
		if merr != nil {
			t.Fatal(merr)
		}
		if err != nil {
			known := false
			for _, sentinel := range []error{ErrBadEvent, ErrIllegalTransition, ErrOutOfOrder, events.ErrUnknownType, events.ErrBadPayload} {
				known = known || errors.Is(err, sentinel)
			}
			if !known {
				t.Fatalf("error without a sentinel: %v", err)
			}
			if !bytes.Equal(after, baseBytes) || s.Seq() != base.Seq() {
				t.Fatalf("refused record changed the state: %v", err)
			}
			return
		}
		if _, err := UnmarshalState(after); err != nil {
			t.Fatalf("accepted %s left an inconsistent state: %v", typ, err)
		}
		_ = s.CRIEvents(e)
		for _, sb := range s.ListSandboxes(nil) {
			_ = sb.CRIStatus()
		}
		for _, c := range s.ListContainers(nil) {
			_ = c.CRIStatus()
		}
		for _, img := range s.ListImages(nil) {
			_ = img.CRI()
		}
		// The base, shared with the clone, never changes.
		if b, _ := base.MarshalBinary(); !bytes.Equal(b, baseBytes) {
			t.Fatal("folding a clone changed the state it was cloned from")
		}
	})
}
