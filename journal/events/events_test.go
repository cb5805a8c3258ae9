package events

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Every type round-trips through Encode and Decode, and TypeOf agrees with
// the type table, so a message added to one table but not the other fails.
func TestEveryTypeRoundTrips(t *testing.T) {
	for _, typ := range Types() {
		m := payloads[typ]()
		got, b, err := Encode(m)
		if err != nil {
			t.Fatalf("%s: encode: %v", typ, err)
		}
		if got != typ {
			t.Fatalf("TypeOf(%T) = %s, want %s", m, got, typ)
		}
		back, err := Decode(typ, b)
		if err != nil {
			t.Fatalf("%s: decode: %v", typ, err)
		}
		if !proto.Equal(back, m) {
			t.Fatalf("%s: round trip changed the message", typ)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, err := Decode("container.teleported", nil); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("unknown type: got %v", err)
	}
	if _, err := Decode(ContainerExitedType, []byte{0xff, 0xff, 0xff}); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("garbage payload: got %v", err)
	}
	if _, err := TypeOf(&runtimeapi.Container{}); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("foreign message: got %v", err)
	}
}

func TestCRIConfigSurvives(t *testing.T) {
	in := &ContainerCreating{
		Config:  &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "c", Attempt: 3}, Labels: map[string]string{"a": "b"}},
		ImageId: "sha256:abc",
	}
	_, b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(ContainerCreatingType, b)
	if err != nil {
		t.Fatal(err)
	}
	cc := out.(*ContainerCreating)
	if cc.GetConfig().GetMetadata().GetAttempt() != 3 || cc.GetConfig().GetLabels()["a"] != "b" || cc.GetImageId() != "sha256:abc" {
		t.Fatalf("lost fields: %v", cc)
	}
}
