package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logbook-cri/logbook/journal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// fixture is a journal served over a unix socket in t.TempDir and a Client
// connected to it.
type fixture struct {
	j      *journal.Journal
	client *Client
	srv    *grpc.Server
}

func newFixture(t *testing.T, opts journal.Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	j, err := journal.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "logbook.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	Register(srv, j)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := j.Close(); err != nil {
			t.Error(err)
		}
		// The file the test leaves must pass bbolt's and the journal's checks.
		ro, err := journal.Open(path, journal.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("reopen for Check: %v", err)
		}
		defer ro.Close()
		if err := ro.Check(); err != nil {
			t.Error(err)
		}
	})
	return &fixture{j: j, client: NewClient(conn), srv: srv}
}

func record(i int) journal.Record {
	return journal.Record{
		Type:        "container.started",
		SandboxID:   fmt.Sprintf("sandbox-%d", i/4),
		ContainerID: fmt.Sprintf("container-%d", i),
		Payload:     bytes.Repeat([]byte{byte(i)}, 200),
	}
}

func same(got, want journal.Record) bool {
	return got.Seq == want.Seq && got.Time == want.Time && got.Type == want.Type &&
		got.SandboxID == want.SandboxID && got.ContainerID == want.ContainerID && bytes.Equal(got.Payload, want.Payload)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBoundsAndRead(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t, journal.Options{})
	if first, last, err := f.client.Bounds(ctx); err != nil || first != 1 || last != 0 {
		t.Fatalf("Bounds of an empty journal = %d, %d, %v", first, last, err)
	}
	recs := make([]journal.Record, 1500) // more than one RecordBatch
	for i := range recs {
		recs[i] = record(i)
	}
	if _, err := f.j.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	var local, remote []journal.Record
	if err := f.j.Read(ctx, 0, 0, func(r journal.Record) error { local = append(local, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Read(ctx, 0, 0, func(r journal.Record) error { remote = append(remote, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(remote) != len(local) {
		t.Fatalf("remote Read returned %d records, local %d", len(remote), len(local))
	}
	for i := range local {
		if !same(remote[i], local[i]) {
			t.Fatalf("record %d differs over the wire: %+v vs %+v", i+1, remote[i], local[i])
		}
	}
	if first, last, err := f.client.Bounds(ctx); err != nil || first != 1 || last != 1500 {
		t.Fatalf("Bounds = %d, %d, %v; want 1, 1500", first, last, err)
	}
	var sub []uint64
	if err := f.client.Read(ctx, 700, 702, func(r journal.Record) error { sub = append(sub, r.Seq); return nil }); err != nil || fmt.Sprint(sub) != "[700 701 702]" {
		t.Fatalf("Read(700, 702) = %v, %v", sub, err)
	}
	// The callback's error ends the read and comes back as is.
	stop := errors.New("enough")
	n := 0
	err := f.client.Read(ctx, 0, 0, func(journal.Record) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 {
		t.Fatalf("Read with a failing callback: %v after %d records", err, n)
	}

	if err := f.j.PutSnapshot(ctx, 999, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.j.Compact(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	err = f.client.Read(ctx, 5, 0, func(journal.Record) error { return nil })
	if !errors.Is(err, journal.ErrCompacted) || !strings.Contains(err.Error(), "first retained") {
		t.Fatalf("remote Read below first: %v; want ErrCompacted with the server's message", err)
	}
	if st, ok := status.FromError(err); !ok || st.Code() != codes.OutOfRange {
		t.Fatalf("remote ErrCompacted lost its status: %v", err)
	}
}

func TestSnapshot(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t, journal.Options{})
	if _, _, err := f.client.Snapshot(ctx, 0); !errors.Is(err, journal.ErrNoSnapshot) {
		t.Fatalf("Snapshot of a journal without: %v, want ErrNoSnapshot", err)
	}
	for i := range 10 {
		if _, err := f.j.Append(ctx, record(i)); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 5<<20+123) // several chunks
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := f.j.PutSnapshot(ctx, 4, []byte("small")); err != nil {
		t.Fatal(err)
	}
	if err := f.j.PutSnapshot(ctx, 8, big); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		seq, at uint64
		data    []byte
	}{{0, 8, big}, {7, 4, []byte("small")}, {9, 8, big}} {
		at, data, err := f.client.Snapshot(ctx, tc.seq)
		if err != nil || at != tc.at || !bytes.Equal(data, tc.data) {
			t.Fatalf("Snapshot(%d) = %d, %d bytes, %v; want %d, %d bytes", tc.seq, at, len(data), err, tc.at, len(tc.data))
		}
	}
	if _, _, err := f.client.Snapshot(ctx, 3); !errors.Is(err, journal.ErrNoSnapshot) {
		t.Fatalf("Snapshot(3): %v, want ErrNoSnapshot", err)
	}
}

func TestTail(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t, journal.Options{RingSize: 16})
	for i := range 100 {
		if _, err := f.j.Append(ctx, record(i)); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := f.client.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	head, err := f.client.Tail(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer head.Close()
	eventually(t, "both server cursors", func() bool { return len(f.j.Stats().Cursors) == 2 })
	// Replay, then live appends.
	go func() {
		for i := 100; i < 150; i++ {
			if _, err := f.j.Append(ctx, record(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for want := uint64(1); want <= 150; want++ {
		r, err := cur.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != want || r.ContainerID != fmt.Sprintf("container-%d", want-1) {
			t.Fatalf("tail delivered %d (%s), want %d", r.Seq, r.ContainerID, want)
		}
	}
	bc := head.(journal.BatchCursor)
	for want := uint64(101); want <= 150; {
		recs, err := bc.NextBatch(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || len(recs) > 7 {
			t.Fatalf("NextBatch(7) returned %d records", len(recs))
		}
		for _, r := range recs {
			if r.Seq != want {
				t.Fatalf("head tail delivered %d, want %d", r.Seq, want)
			}
			want++
		}
	}

	// A cancelled Next leaves the cursor usable; Close ends it.
	nctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := cur.Next(nctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next(cancelled) = %v", err)
	}
	if _, err := f.j.Append(ctx, record(150)); err != nil {
		t.Fatal(err)
	}
	if r, err := cur.Next(ctx); err != nil || r.Seq != 151 {
		t.Fatalf("Next after a cancelled Next = %d, %v", r.Seq, err)
	}
	res := make(chan error, 1)
	go func() { _, err := cur.Next(ctx); res <- err }()
	cur.Close()
	if err := <-res; !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("Next across Close: %v, want ErrClosed", err)
	}
	eventually(t, "the server to drop the closed tail's cursor", func() bool { return len(f.j.Stats().Cursors) == 1 })
}

func TestTailErrors(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t, journal.Options{})
	for i := range 10 {
		if _, err := f.j.Append(ctx, record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.j.PutSnapshot(ctx, 5, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.j.Compact(ctx, 6); err != nil {
		t.Fatal(err)
	}
	// A compacted position fails Tail itself.
	if _, err := f.client.Tail(ctx, 2); !errors.Is(err, journal.ErrCompacted) {
		t.Fatalf("remote Tail below first: %v, want ErrCompacted", err)
	}

	// The Tail context ends the cursor.
	tctx, tcancel := context.WithCancel(ctx)
	cur, err := f.client.Tail(tctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if r, err := cur.Next(ctx); err != nil || r.Seq != 6 {
		t.Fatalf("Next = %d, %v", r.Seq, err)
	}
	tcancel()
	var nextErr error
	for nextErr == nil { // records already received may still come
		_, nextErr = cur.Next(ctx)
	}
	if !errors.Is(nextErr, context.Canceled) {
		t.Fatalf("Next after the Tail context ended: %v", nextErr)
	}

	// Closing the journal ends remote tails with ErrClosed.
	live, err := f.client.Tail(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	res := make(chan error, 1)
	go func() { _, err := live.Next(ctx); res <- err }()
	if err := f.j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("remote tail of a closed journal: %v, want ErrClosed", err)
	}
	if _, _, err := f.client.Bounds(ctx); !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("Bounds of a closed journal: %v, want ErrClosed", err)
	}
}

// A remote subscriber that stops reading blocks only its own stream: the
// appenders all complete (by completion, not timing), and the subscriber
// later receives everything in order.
func TestStalledRemoteTail(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t, journal.Options{RingSize: 64})
	stalled, err := f.client.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	const appenders, each = 8, 250 // ~500 KB: beyond gRPC's flow-control windows
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for i := range each {
				r := record(a*each + i)
				r.Payload = bytes.Repeat([]byte{byte(i)}, 256)
				if _, err := f.j.Append(ctx, r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	bc := stalled.(journal.BatchCursor)
	for want := uint64(1); want <= appenders*each; {
		recs, err := bc.NextBatch(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Seq != want {
				t.Fatalf("stalled tail resumed at %d, want %d", r.Seq, want)
			}
			want++
		}
	}
}

func TestErrorMapping(t *testing.T) {
	for _, w := range wireErrors {
		local := fmt.Errorf("journal /x: %w: detail", w.err)
		st := toStatus(local)
		if s, ok := status.FromError(st); !ok || s.Code() != w.code || s.Message() != local.Error() {
			t.Errorf("toStatus(%v) = %v, want code %v", local, st, w.code)
		}
		back := fromStatus(st)
		if !errors.Is(back, w.err) || !strings.Contains(back.Error(), "detail") {
			t.Errorf("round trip of %v gave %v", w.err, back)
		}
		for _, other := range wireErrors {
			if other.err != w.err && errors.Is(back, other.err) {
				t.Errorf("%v came back also matching %v", w.err, other.err)
			}
		}
	}
	for _, tc := range []struct {
		err  error
		code codes.Code
		back error
	}{
		{context.Canceled, codes.Canceled, context.Canceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, context.DeadlineExceeded},
		{errors.New("boom"), codes.Unknown, nil},
	} {
		st := toStatus(tc.err)
		if s, _ := status.FromError(st); s.Code() != tc.code {
			t.Errorf("toStatus(%v) code %v, want %v", tc.err, s.Code(), tc.code)
		}
		if tc.back != nil && !errors.Is(fromStatus(st), tc.back) {
			t.Errorf("fromStatus(toStatus(%v)) = %v", tc.err, fromStatus(st))
		}
	}
	if toStatus(nil) != nil || fromStatus(nil) != nil {
		t.Error("nil must map to nil")
	}
	plain := status.Error(codes.Unavailable, "server gone")
	if got := fromStatus(plain); got != plain {
		t.Errorf("a status without detail changed: %v", got)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
