package remote

import (
	"context"

	"github.com/logbook-cri/logbook/journal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

const (
	serviceName = "logbook.journal.v1.Journal"

	methodBounds   = "/" + serviceName + "/Bounds"
	methodRead     = "/" + serviceName + "/Read"
	methodTail     = "/" + serviceName + "/Tail"
	methodSnapshot = "/" + serviceName + "/Snapshot"

	// tailReadyKey is the response header the Tail handler sends once its
	// cursor exists; a client that gets no headers reads the error instead.
	tailReadyKey = "logbook-journal-tail"

	// batchRecords and batchBytes bound one RecordBatch message (well
	// under gRPC's default 4 MiB message limit).
	batchRecords = 512
	batchBytes   = 1 << 20
	// snapshotChunk is the data size of one SnapshotChunk.
	snapshotChunk = 1 << 20
)

// Register serves src as the logbook.journal.v1.Journal service on s. The
// service is read-only; a stalled client holds only its own stream (gRPC
// flow control blocks that stream's handler, never the journal's writers).
func Register(s *grpc.Server, src journal.Source) {
	s.RegisterService(&serviceDesc, &server{src: src})
}

// server implements the service over a journal.Source.
type server struct {
	src journal.Source
}

// journalServer is the handler type grpc checks the implementation
// against.
type journalServer interface {
	bounds(context.Context, *BoundsRequest) (*BoundsResponse, error)
	read(*ReadRequest, grpc.ServerStream) error
	tail(*TailRequest, grpc.ServerStream) error
	snapshot(*SnapshotRequest, grpc.ServerStream) error
}

var _ journalServer = (*server)(nil)

// serviceDesc is what protoc-gen-go-grpc would generate for journal.proto.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*journalServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Bounds",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(BoundsRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			s := srv.(journalServer)
			if interceptor == nil {
				return s.bounds(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: methodBounds}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return s.bounds(ctx, req.(*BoundsRequest))
			})
		},
	}},
	Streams: []grpc.StreamDesc{
		{StreamName: "Read", ServerStreams: true, Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(ReadRequest)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(journalServer).read(in, stream)
		}},
		{StreamName: "Tail", ServerStreams: true, Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(TailRequest)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(journalServer).tail(in, stream)
		}},
		{StreamName: "Snapshot", ServerStreams: true, Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(SnapshotRequest)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(journalServer).snapshot(in, stream)
		}},
	},
	Metadata: "journal/remote/journal.proto",
}

func (s *server) bounds(ctx context.Context, _ *BoundsRequest) (*BoundsResponse, error) {
	first, last, err := s.src.Bounds(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &BoundsResponse{First: first, Last: last}, nil
}

func (s *server) read(in *ReadRequest, stream grpc.ServerStream) error {
	var b batcher
	err := s.src.Read(stream.Context(), in.GetFrom(), in.GetTo(), func(r journal.Record) error {
		if b.add(r) {
			return b.flush(stream)
		}
		return nil
	})
	if err == nil {
		err = b.flush(stream)
	}
	return toStatus(err)
}

func (s *server) tail(in *TailRequest, stream grpc.ServerStream) error {
	ctx := stream.Context()
	cur, err := s.src.Tail(ctx, in.GetFrom())
	if err != nil {
		return toStatus(err)
	}
	defer cur.Close()
	if err := stream.SendHeader(metadata.Pairs(tailReadyKey, "1")); err != nil {
		return err
	}
	bc, batched := cur.(journal.BatchCursor)
	for {
		var recs []journal.Record
		if batched {
			recs, err = bc.NextBatch(ctx, batchRecords)
		} else {
			var r journal.Record
			r, err = cur.Next(ctx)
			recs = []journal.Record{r}
		}
		if err != nil {
			return toStatus(err)
		}
		var b batcher
		for _, r := range recs {
			if b.add(r) {
				if err := b.flush(stream); err != nil {
					return err
				}
			}
		}
		if err := b.flush(stream); err != nil {
			return err
		}
	}
}

func (s *server) snapshot(in *SnapshotRequest, stream grpc.ServerStream) error {
	at, data, err := s.src.Snapshot(stream.Context(), in.GetSeq())
	if err != nil {
		return toStatus(err)
	}
	for {
		n := min(len(data), snapshotChunk)
		if err := stream.SendMsg(&SnapshotChunk{At: at, Data: data[:n]}); err != nil {
			return err
		}
		if data = data[n:]; len(data) == 0 {
			return nil
		}
	}
}

// batcher gathers records into RecordBatch messages of bounded size.
type batcher struct {
	batch RecordBatch
	size  int
}

// add appends r and reports whether the batch is full.
func (b *batcher) add(r journal.Record) bool {
	b.batch.Records = append(b.batch.Records, toWire(r))
	b.size += len(r.Payload) + len(r.Type) + len(r.SandboxID) + len(r.ContainerID) + 32
	return len(b.batch.Records) >= batchRecords || b.size >= batchBytes
}

func (b *batcher) flush(stream grpc.ServerStream) error {
	if len(b.batch.Records) == 0 {
		return nil
	}
	err := stream.SendMsg(&b.batch)
	b.batch.Records, b.size = nil, 0
	return err
}

func toWire(r journal.Record) *Record {
	return &Record{Seq: r.Seq, Time: r.Time, Type: r.Type, SandboxId: r.SandboxID, ContainerId: r.ContainerID, Payload: r.Payload}
}

func fromWire(r *Record) journal.Record {
	return journal.Record{Seq: r.GetSeq(), Time: r.GetTime(), Type: r.GetType(), SandboxID: r.GetSandboxId(), ContainerID: r.GetContainerId(), Payload: r.GetPayload()}
}
