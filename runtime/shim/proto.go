package shim

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Kind is the first byte of a frame: what the payload is.
type Kind byte

// Frame kinds. The first frame of a connection is a request (Attach, Status,
// ReopenLog); the shim answers a Status or ReopenLog with one OK or Error
// frame and closes. An Attach turns the connection into a stream: the client
// sends Stdin, StdinClose and Resize frames, the shim sends Stdout, Stderr and
// Dropped frames and, once the container has exited and its output has been
// drained, one Exit frame, after which it closes.
const (
	KindAttach     Kind = 'a' // client: payload AttachRequest
	KindStatus     Kind = 's' // client: empty payload
	KindReopenLog  Kind = 'r' // client: empty payload
	KindOK         Kind = 'k' // shim: the request succeeded; payload per request (Status for KindStatus)
	KindError      Kind = 'x' // shim: the request failed; payload is the error text
	KindStdin      Kind = 'i' // client: bytes for the container's stdin
	KindStdinClose Kind = 'c' // client: this client's stdin ended
	KindResize     Kind = 'w' // client: payload TermSize
	KindStdout     Kind = 'o' // shim: bytes the container wrote to stdout (or its terminal)
	KindStderr     Kind = 'e' // shim: bytes the container wrote to stderr
	KindDropped    Kind = 'd' // shim: payload is the decimal count of bytes this client missed
	KindExit       Kind = 'X' // shim: payload Exit; the stream ends
)

func (k Kind) String() string {
	switch k {
	case KindAttach:
		return "attach"
	case KindStatus:
		return "status"
	case KindReopenLog:
		return "reopen-log"
	case KindOK:
		return "ok"
	case KindError:
		return "error"
	case KindStdin:
		return "stdin"
	case KindStdinClose:
		return "stdin-close"
	case KindResize:
		return "resize"
	case KindStdout:
		return "stdout"
	case KindStderr:
		return "stderr"
	case KindDropped:
		return "dropped"
	case KindExit:
		return "exit"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

const (
	// FrameHeaderSize is the kind byte plus the big-endian uint32 length.
	FrameHeaderSize = 5
	// MaxFramePayload bounds a payload, so that a confused peer cannot make
	// the other side allocate without limit.
	MaxFramePayload = 64 << 10
)

// AppendFrame appends the encoding of one frame to dst. A payload longer
// than MaxFramePayload is the caller's bug; use AppendFrames to split data.
func AppendFrame(dst []byte, k Kind, payload []byte) []byte {
	dst = append(dst, byte(k))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// AppendFrames appends data as as many frames of kind k as it needs.
func AppendFrames(dst []byte, k Kind, data []byte) []byte {
	for len(data) > MaxFramePayload {
		dst = AppendFrame(dst, k, data[:MaxFramePayload])
		data = data[MaxFramePayload:]
	}
	return AppendFrame(dst, k, data)
}

// FrameReader reads frames from a stream. The payload returned by Next is
// valid until the following call.
type FrameReader struct {
	r   *bufio.Reader
	buf []byte
}

// NewFrameReader wraps r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 4096)}
}

// Next reads one frame. io.EOF means the stream ended between frames; an end
// inside a frame is io.ErrUnexpectedEOF.
func (fr *FrameReader) Next() (Kind, []byte, error) {
	var hdr [FrameHeaderSize]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFramePayload {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	p := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return Kind(hdr[0]), p, nil
}

// AttachRequest is the payload of KindAttach: which streams the client
// wants. Stdin is honoured only if the container has a stdin.
type AttachRequest struct {
	Stdin, Stdout, Stderr bool
}

// MarshalText encodes the request as a record.
func (a AttachRequest) MarshalText() ([]byte, error) {
	var r record
	r.addBool("stdin", a.Stdin)
	r.addBool("stdout", a.Stdout)
	r.addBool("stderr", a.Stderr)
	return r, nil
}

// UnmarshalText decodes a request record.
func (a *AttachRequest) UnmarshalText(b []byte) error {
	f, err := parseRecord(b)
	if err != nil {
		return err
	}
	*a = AttachRequest{Stdin: f.bool("stdin"), Stdout: f.bool("stdout"), Stderr: f.bool("stderr")}
	return nil
}

// TermSize is a terminal size in character cells, the payload of KindResize.
type TermSize struct {
	Width, Height uint16
}

// MarshalText encodes the size as a record.
func (t TermSize) MarshalText() ([]byte, error) {
	var r record
	r.addUint("width", uint64(t.Width))
	r.addUint("height", uint64(t.Height))
	return r, nil
}

// UnmarshalText decodes a size record.
func (t *TermSize) UnmarshalText(b []byte) error {
	f, err := parseRecord(b)
	if err != nil {
		return err
	}
	w, err := f.int("width")
	if err != nil {
		return err
	}
	h, err := f.int("height")
	if err != nil {
		return err
	}
	if w < 0 || w > 0xffff || h < 0 || h > 0xffff {
		return fmt.Errorf("%w: terminal size %dx%d out of range", ErrMalformed, w, h)
	}
	*t = TermSize{Width: uint16(w), Height: uint16(h)}
	return nil
}

// Status is the payload of the OK answer to KindStatus: what the shim knows
// about its container and its own health.
type Status struct {
	ShimPid int
	InitPid int
	// Exited is true between the container's exit and the shim's own exit
	// (while output drains and the exit file is written).
	Exited bool
	// StdinOpen: the container's stdin is still open.
	StdinOpen bool
	LogPath   string
	// LogEntries counts CRI log entries written, LogDropped those dropped
	// because the log could not be written fast enough or at all.
	LogEntries, LogDropped uint64
	// Clients is the number of attached clients; AttachDropped counts the
	// output bytes that slow clients missed.
	Clients       int
	AttachDropped uint64
}

// MarshalText encodes the status as a record.
func (s Status) MarshalText() ([]byte, error) {
	var r record
	r.addInt("shim_pid", int64(s.ShimPid))
	r.addInt("init_pid", int64(s.InitPid))
	r.addBool("exited", s.Exited)
	r.addBool("stdin_open", s.StdinOpen)
	if s.LogPath != "" {
		r.add("log_path", s.LogPath)
	}
	r.addUint("log_entries", s.LogEntries)
	r.addUint("log_dropped", s.LogDropped)
	r.addInt("clients", int64(s.Clients))
	r.addUint("attach_dropped", s.AttachDropped)
	return r, nil
}

// UnmarshalText decodes a status record.
func (s *Status) UnmarshalText(b []byte) error {
	f, err := parseRecord(b)
	if err != nil {
		return err
	}
	var out Status
	var shimPid, initPid, clients int64
	for _, p := range []struct {
		key string
		dst *int64
	}{{"shim_pid", &shimPid}, {"init_pid", &initPid}, {"clients", &clients}} {
		if *p.dst, err = f.optInt(p.key); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		key string
		dst *uint64
	}{{"log_entries", &out.LogEntries}, {"log_dropped", &out.LogDropped}, {"attach_dropped", &out.AttachDropped}} {
		if *p.dst, err = f.optUint(p.key); err != nil {
			return err
		}
	}
	out.ShimPid, out.InitPid, out.Clients = int(shimPid), int(initPid), int(clients)
	out.Exited = f.bool("exited")
	out.StdinOpen = f.bool("stdin_open")
	out.LogPath = f.str("log_path")
	*s = out
	return nil
}

// Ready is what the shim writes on its readiness descriptor once runc create
// has returned: the container's init pid, or the reason it failed.
type Ready struct {
	InitPid int
	Error   string
}

// MarshalText encodes the readiness report.
func (r Ready) MarshalText() ([]byte, error) {
	var rec record
	if r.Error != "" {
		rec.add("error", r.Error)
	} else {
		rec.addInt("pid", int64(r.InitPid))
	}
	return rec, nil
}

// UnmarshalText decodes a readiness report.
func (r *Ready) UnmarshalText(b []byte) error {
	f, err := parseRecord(b)
	if err != nil {
		return err
	}
	if msg, ok := f["error"]; ok {
		*r = Ready{Error: msg}
		return nil
	}
	pid, err := f.int("pid")
	if err != nil {
		return err
	}
	if pid <= 0 {
		return fmt.Errorf("%w: init pid %d", ErrMalformed, pid)
	}
	*r = Ready{InitPid: int(pid)}
	return nil
}
