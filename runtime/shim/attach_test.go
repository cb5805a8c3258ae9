package shim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testServer is a shim server without a container: the test plays the
// output pumps (hub.broadcast) and reads the stdin pipe itself.
type testServer struct {
	srv     *server
	hub     *hub
	dir     string
	stdinR  *os.File // what the container would read
	resized chan TermSize
	reopens chan struct{}
}

func startServer(t *testing.T, stdinOnce bool, limit int) *testServer {
	t.Helper()
	dir := t.TempDir()
	ln, err := ListenUnix(dir, SocketName)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{hub: newHub(limit, 100*time.Millisecond), dir: dir, stdinR: r,
		resized: make(chan TermSize, 4), reopens: make(chan struct{}, 4)}
	port := &stdinPort{w: w, once: stdinOnce, close: func() { w.Close() }}
	ts.srv = &server{
		ln: ln, hub: ts.hub, stdin: port,
		resize: func(s TermSize) error { ts.resized <- s; return nil },
		reopen: func() error {
			ts.reopens <- struct{}{}
			if len(ts.reopens) > 1 {
				return errors.New("disk on fire")
			}
			return nil
		},
		status: func() Status {
			return Status{ShimPid: 1, InitPid: 2, Clients: ts.hub.count(), StdinOpen: port.isOpen()}
		},
		log: NewTextLogger(io.Discard, true),
	}
	ts.srv.start()
	t.Cleanup(func() {
		ts.srv.close()
		r.Close()
		w.Close()
	})
	return ts
}

type testClient struct {
	t    *testing.T
	conn net.Conn
	fr   *FrameReader
}

func (ts *testServer) attach(t *testing.T, req AttachRequest) *testClient {
	t.Helper()
	conn, err := Dial(context.Background(), ts.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b, _ := req.MarshalText()
	conn.Write(AppendFrame(nil, KindAttach, b))
	c := &testClient{t: t, conn: conn, fr: NewFrameReader(conn)}
	if k, _ := c.next(); k != KindOK {
		t.Fatalf("attach answered %v", k)
	}
	return c
}

func (c *testClient) next() (Kind, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, p, err := c.fr.Next()
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return k, string(p)
}

func (c *testClient) send(k Kind, p []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(AppendFrame(nil, k, p)); err != nil {
		c.t.Fatal(err)
	}
}

func (ts *testServer) waitClients(t *testing.T, n int) {
	t.Helper()
	waitFor(t, strconv.Itoa(n)+" clients", func() bool { return ts.hub.count() == n })
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

func TestAttachStreamsAndExit(t *testing.T) {
	ts := startServer(t, false, DefaultSpoolLimit)
	out := ts.attach(t, AttachRequest{Stdin: true, Stdout: true})
	errs := ts.attach(t, AttachRequest{Stderr: true})
	ts.waitClients(t, 2)

	ts.hub.broadcast(KindStdout, []byte("to stdout"))
	ts.hub.broadcast(KindStderr, []byte("to stderr"))
	if k, p := out.next(); k != KindStdout || p != "to stdout" {
		t.Errorf("stdout client got %v %q", k, p)
	}
	if k, p := errs.next(); k != KindStderr || p != "to stderr" {
		t.Errorf("stderr client got %v %q", k, p)
	}

	out.send(KindStdin, []byte("typed"))
	if got := readN(t, ts.stdinR, 5); got != "typed" {
		t.Errorf("container read %q", got)
	}
	size, _ := TermSize{Width: 80, Height: 24}.MarshalText()
	out.send(KindResize, size)
	select {
	case s := <-ts.resized:
		if s != (TermSize{Width: 80, Height: 24}) {
			t.Errorf("resized to %+v", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no resize")
	}

	ts.hub.finish(Exit{Pid: 2, Status: 3, At: time.Unix(9, 0)}, 5*time.Second)
	for _, c := range []*testClient{out, errs} {
		k, p := c.next()
		var e Exit
		if k != KindExit || e.UnmarshalText([]byte(p)) != nil || e.Status != 3 {
			t.Errorf("last frame %v %q", k, p)
		}
		if _, _, err := c.fr.Next(); err != io.EOF {
			t.Errorf("after the exit frame: %v, want EOF", err)
		}
	}
	// A client that comes after the end gets the end at once.
	late := ts.attach(t, AttachRequest{Stdout: true})
	if k, _ := late.next(); k != KindExit {
		t.Errorf("late client got %v", k)
	}
}

func TestStdinOnceFollowsTheFirstClient(t *testing.T) {
	ts := startServer(t, true, DefaultSpoolLimit)
	first := ts.attach(t, AttachRequest{Stdin: true})
	second := ts.attach(t, AttachRequest{Stdin: true})
	ts.waitClients(t, 2)

	// The second client's end does not close the container's stdin...
	second.send(KindStdinClose, nil)
	first.send(KindStdin, []byte("a"))
	if got := readN(t, ts.stdinR, 1); got != "a" {
		t.Fatalf("read %q", got)
	}
	// ...the first client's does, even by just going away.
	first.conn.Close()
	if rest, err := io.ReadAll(ts.stdinR); err != nil || len(rest) != 0 {
		t.Fatalf("stdin after the first client left: %q, %v", rest, err)
	}
	st := statusOf(t, ts)
	if st.StdinOpen {
		t.Error("status says stdin is open")
	}
}

func TestStdinWithoutOnceSurvivesClients(t *testing.T) {
	ts := startServer(t, false, DefaultSpoolLimit)
	c := ts.attach(t, AttachRequest{Stdin: true})
	c.send(KindStdin, []byte("x"))
	c.send(KindStdinClose, nil)
	c.conn.Close()
	if got := readN(t, ts.stdinR, 1); got != "x" {
		t.Fatalf("read %q", got)
	}
	ts.waitClients(t, 0)
	if !statusOf(t, ts).StdinOpen {
		t.Error("stdin closed without stdin_once")
	}
	d := ts.attach(t, AttachRequest{Stdin: true})
	d.send(KindStdin, []byte("y"))
	if got := readN(t, ts.stdinR, 1); got != "y" {
		t.Fatalf("read %q", got)
	}
}

// A client that does not read loses output (and is told how much) instead
// of holding up the container's output.
func TestSlowClientMissesOutputButNeverBlocks(t *testing.T) {
	ts := startServer(t, false, 8<<10)
	c := ts.attach(t, AttachRequest{Stdout: true})
	ts.waitClients(t, 1)
	chunk := bytes.Repeat([]byte("z"), 1000)
	const chunks = 4000 // 4 MB: far beyond the socket buffer and the backlog
	sent := make(chan struct{})
	go func() {
		for i := 0; i < chunks; i++ {
			ts.hub.broadcast(KindStdout, chunk)
		}
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Fatal("broadcast blocked on a client that does not read")
	}
	finished := make(chan struct{})
	go func() {
		ts.hub.finish(Exit{}, 10*time.Second)
		close(finished)
	}()
	var got, missed int
	for {
		k, p := c.next()
		if k == KindExit {
			break
		}
		switch k {
		case KindStdout:
			got += len(p)
		case KindDropped:
			n, err := strconv.Atoi(p)
			if err != nil {
				t.Fatal(err)
			}
			missed += n
		default:
			t.Fatalf("frame %v", k)
		}
	}
	<-finished
	if got+missed != chunks*len(chunk) || missed == 0 {
		t.Errorf("received %d + missed %d, sent %d", got, missed, chunks*len(chunk))
	}
	if d := ts.hub.dropped.Load(); d < uint64(missed) {
		t.Errorf("hub counted %d dropped bytes, client was told %d", d, missed)
	}
}

func TestRequests(t *testing.T) {
	ts := startServer(t, false, DefaultSpoolLimit)
	call := func(k Kind) (Kind, string) {
		conn, err := Dial(context.Background(), ts.dir)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(AppendFrame(nil, k, nil))
		fr := NewFrameReader(conn)
		ak, p, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := fr.Next(); err != io.EOF {
			t.Errorf("%v: connection not closed after the answer: %v", k, err)
		}
		return ak, string(p)
	}
	if k, p := call(KindReopenLog); k != KindOK || p != "" {
		t.Errorf("reopen: %v %q", k, p)
	}
	if k, p := call(KindReopenLog); k != KindError || !strings.Contains(p, "disk on fire") {
		t.Errorf("failing reopen: %v %q", k, p)
	}
	if k, p := call(KindStdout); k != KindError || !strings.Contains(p, "protocol") {
		t.Errorf("bogus request: %v %q", k, p)
	}
	if st := statusOf(t, ts); st.ShimPid != 1 || st.InitPid != 2 {
		t.Errorf("status %+v", st)
	}
}

func statusOf(t *testing.T, ts *testServer) Status {
	t.Helper()
	conn, err := Dial(context.Background(), ts.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(AppendFrame(nil, KindStatus, nil))
	k, p, err := NewFrameReader(conn).Next()
	if err != nil || k != KindOK {
		t.Fatalf("status: %v %v", k, err)
	}
	var st Status
	if err := st.UnmarshalText(p); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSocketPathTooLongForSunPath(t *testing.T) {
	dir := t.TempDir() + "/" + strings.Repeat("x", 100)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := ListenUnix(dir, SocketName)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	conn, err := Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := readN(t, conn, 2); got != "hi" {
		t.Errorf("read %q", got)
	}
	if _, err := os.Stat(dir + "/" + SocketName); err != nil {
		t.Errorf("socket not at its real path: %v", err)
	}
}
