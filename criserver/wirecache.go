package criserver

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A kubelet relists every second: ListPodSandbox and ListContainers of
// every object on the node. Building a CRI message per object and
// marshalling the lot costs more than the client's own decoding; yet the
// objects of the projection are immutable, and one changes only with a
// journal record (its LastSeq). So each object's wire encoding is made
// once per change and kept, and a list response is the concatenation of
// those encodings: the bytes proto.Marshal would have produced for the
// repeated field, handed to the response as its unknown fields, which
// proto marshals verbatim. The client decodes an ordinary response.
//
// The catch: a response built so carries its list only on the wire; a
// caller in the same process that reads the Go field sees it empty. Every
// caller of these handlers is a gRPC client.

// wireCache holds the encoding of each object last listed, by ID and the
// journal position of the object's last change.
type wireCache[T any] struct {
	// key is the object's ID and LastSeq; msg its CRI message.
	key func(T) (string, uint64)
	msg func(T) proto.Message

	mu sync.Mutex
	m  map[string]wireEntry
}

type wireEntry struct {
	seq uint64
	b   []byte
}

// encode returns the wire encoding of items as the repeated message field
// number field. A complete list (no filter) also drops the entries of
// objects that are gone; a filtered one only adds to the cache.
func (c *wireCache[T]) encode(items []T, field protowire.Number, complete bool) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := c.m
	if complete || keep == nil {
		keep = make(map[string]wireEntry, len(items))
	}
	size := 0
	bs := make([][]byte, len(items))
	for i, it := range items {
		id, seq := c.key(it)
		e, ok := c.m[id]
		if !ok || e.seq != seq {
			b, err := proto.Marshal(c.msg(it))
			if err != nil {
				return nil, err
			}
			e = wireEntry{seq: seq, b: b}
		}
		keep[id] = e
		bs[i] = e.b
		size += protowire.SizeTag(field) + protowire.SizeBytes(len(e.b))
	}
	c.m = keep
	out := make([]byte, 0, size)
	for _, b := range bs {
		out = protowire.AppendTag(out, field, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
	}
	return out, nil
}

// withWire sets m's unknown fields to the encoded list and returns m.
func withWire[M proto.Message](m M, wire []byte) M {
	m.ProtoReflect().SetUnknown(protoreflect.RawFields(wire))
	return m
}
