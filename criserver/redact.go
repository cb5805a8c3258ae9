package criserver

import (
	"log/slog"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// redacted renders a request for the debug log with every field the CRI
// marks debug_redact (registry credentials in AuthConfig) cleared. It is a
// slog.LogValuer, so the work is only done when debug logging is on.
type redacted struct{ m proto.Message }

func (r redacted) LogValue() slog.Value {
	m := proto.Clone(r.m)
	redact(m.ProtoReflect())
	b, err := protojson.MarshalOptions{EmitUnpopulated: false}.Marshal(m)
	if err != nil {
		return slog.StringValue("<unprintable: " + err.Error() + ">")
	}
	return slog.StringValue(string(b))
}

// redact clears, in place, every populated field whose descriptor carries
// the debug_redact option, recursing into messages, lists and maps.
func redact(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDebugRedact() {
			m.Clear(fd)
			return true
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				redact(l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				redact(mv.Message())
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			redact(v.Message())
		}
		return true
	})
}
