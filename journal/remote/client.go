package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/logbook-cri/logbook/journal"
	"google.golang.org/grpc"
)

// Client reads a running daemon's journal over gRPC. It implements
// journal.Source, so code written against a journal file (the CLI's dump,
// follow, replay) works unchanged against a live daemon. Errors match the
// journal's sentinels with errors.Is.
type Client struct {
	conn grpc.ClientConnInterface
}

var _ journal.Source = (*Client)(nil)

// NewClient returns a Client over conn (typically a *grpc.ClientConn to the
// daemon's socket). The caller keeps ownership of conn.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{conn: conn}
}

var serverStream = &grpc.StreamDesc{ServerStreams: true}

// Bounds returns the retained range of the remote journal.
func (c *Client) Bounds(ctx context.Context) (first, last uint64, err error) {
	out := new(BoundsResponse)
	if err := c.conn.Invoke(ctx, methodBounds, &BoundsRequest{}, out); err != nil {
		return 0, 0, fromStatus(err)
	}
	return out.GetFirst(), out.GetLast(), nil
}

// open starts a server stream and sends its one request.
func (c *Client) open(ctx context.Context, method string, req any) (grpc.ClientStream, error) {
	stream, err := c.conn.NewStream(ctx, serverStream, method)
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(req); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	return stream, nil
}

// Read calls fn for each remote record from..to, in order; an error of fn
// ends the stream and is returned as is.
func (c *Client) Read(ctx context.Context, from, to uint64, fn func(journal.Record) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.open(ctx, methodRead, &ReadRequest{From: from, To: to})
	if err != nil {
		return fromStatus(err)
	}
	for {
		batch := new(RecordBatch)
		if err := stream.RecvMsg(batch); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fromStatus(err)
		}
		for _, r := range batch.GetRecords() {
			if err := fn(fromWire(r)); err != nil {
				return err
			}
		}
	}
}

// Snapshot returns the remote journal's newest snapshot at or before seq.
func (c *Client) Snapshot(ctx context.Context, seq uint64) (at uint64, data []byte, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.open(ctx, methodSnapshot, &SnapshotRequest{Seq: seq})
	if err != nil {
		return 0, nil, fromStatus(err)
	}
	chunks := 0
	for {
		chunk := new(SnapshotChunk)
		if err := stream.RecvMsg(chunk); err != nil {
			if !errors.Is(err, io.EOF) {
				return 0, nil, fromStatus(err)
			}
			if chunks == 0 {
				return 0, nil, fmt.Errorf("%w: snapshot stream without data", ErrProtocol)
			}
			return at, data, nil
		}
		if chunks > 0 && chunk.GetAt() != at {
			return 0, nil, fmt.Errorf("%w: snapshot chunks of %d and %d", ErrProtocol, at, chunk.GetAt())
		}
		at = chunk.GetAt()
		data = append(data, chunk.GetData()...)
		chunks++
	}
}

// Tail follows the remote journal from `from` (0: after its current last).
// It returns once the server has its cursor, so a compacted position is an
// error here, not at the first Next. The cursor ends with ctx; Close it to
// release the stream.
func (c *Client) Tail(ctx context.Context, from uint64) (journal.Cursor, error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.open(ctx, methodTail, &TailRequest{From: from})
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	md, err := stream.Header()
	if err == nil && len(md.Get(tailReadyKey)) == 0 {
		// No headers: the call failed before the cursor existed, and
		// the status is what the stream ends with.
		err = stream.RecvMsg(new(RecordBatch))
		if err == nil || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: tail stream without its headers", ErrProtocol)
		}
	}
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	cur := &cursor{
		ctx:     ctx,
		cancel:  cancel,
		batches: make(chan received, 1),
		pumped:  make(chan struct{}),
		closed:  make(chan struct{}),
	}
	go cur.pump(stream)
	return cur, nil
}

// cursor is a remote tail. One goroutine, owned by the cursor, receives
// the stream into a channel of one batch so that Next can honour its own
// context; Close cancels the stream and waits for that goroutine.
type cursor struct {
	ctx    context.Context // the stream's: ends with the Tail ctx or Close
	cancel context.CancelFunc

	batches chan received
	pumped  chan struct{} // closed when pump returns
	closed  chan struct{} // closed by Close

	buf []journal.Record // received, not yet delivered (Next's goroutine only)
	err error            // terminal, reported after buf

	closeOnce sync.Once
}

var _ journal.BatchCursor = (*cursor)(nil)

type received struct {
	batch *RecordBatch
	err   error
}

// pump moves batches from the stream to the channel until the stream ends
// or the cursor's context does.
func (c *cursor) pump(stream grpc.ClientStream) {
	defer close(c.pumped)
	for {
		batch := new(RecordBatch)
		err := stream.RecvMsg(batch)
		select {
		case c.batches <- received{batch, err}:
		case <-c.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// Next returns the next remote record. After Close it returns ErrClosed,
// whatever was buffered.
func (c *cursor) Next(ctx context.Context) (journal.Record, error) {
	if c.isClosed() {
		return journal.Record{}, fmt.Errorf("%w: cursor closed", journal.ErrClosed)
	}
	if len(c.buf) == 0 {
		if err := c.receive(ctx); err != nil {
			return journal.Record{}, err
		}
	}
	r := c.buf[0]
	c.buf = c.buf[1:]
	return r, nil
}

// NextBatch returns the next remote records, at most max (all received
// when max <= 0).
func (c *cursor) NextBatch(ctx context.Context, max int) ([]journal.Record, error) {
	if c.isClosed() {
		return nil, fmt.Errorf("%w: cursor closed", journal.ErrClosed)
	}
	if len(c.buf) == 0 {
		if err := c.receive(ctx); err != nil {
			return nil, err
		}
	}
	n := len(c.buf)
	if max > 0 {
		n = min(n, max)
	}
	recs := c.buf[:n:n]
	c.buf = c.buf[n:]
	return recs, nil
}

// receive fills buf with the next non-empty batch.
func (c *cursor) receive(ctx context.Context) error {
	for len(c.buf) == 0 {
		if c.err != nil {
			return c.err
		}
		select {
		case <-c.closed:
			return fmt.Errorf("%w: cursor closed", journal.ErrClosed)
		default:
		}
		select {
		case r := <-c.batches:
			c.take(r)
		case <-c.pumped:
			// pump has left: take its last word if it had one, or end
			// with the cursor's context.
			select {
			case r := <-c.batches:
				c.take(r)
			default:
				c.err = c.endError(c.ctx.Err())
			}
		case <-c.closed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (c *cursor) take(r received) {
	if r.err != nil {
		c.err = c.endError(r.err)
		return
	}
	for _, w := range r.batch.GetRecords() {
		c.buf = append(c.buf, fromWire(w))
	}
}

func (c *cursor) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// endError is the terminal error of the cursor for the stream error err.
func (c *cursor) endError(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the server ended the tail", journal.ErrClosed)
	}
	return fromStatus(err)
}

// Close ends the stream and waits for the cursor's goroutine.
func (c *cursor) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		<-c.pumped
	})
	return nil
}
