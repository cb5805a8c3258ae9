package shim

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// Stream names one output stream of a container.
type Stream uint8

// The container's output streams. With a terminal everything is Stdout.
const (
	Stdout Stream = iota
	Stderr
)

func (s Stream) String() string {
	if s == Stderr {
		return "stderr"
	}
	return "stdout"
}

// DefaultMaxLogLine is the longest message of one CRI log entry; a longer
// line becomes partial entries. 16 KiB is what containerd and CRI-O use and
// what log shippers expect.
const DefaultMaxLogLine = 16 << 10

// criTimeLayout is RFC 3339 with nanoseconds at a fixed width, so that
// entries sort as text; any RFC3339Nano parser (the kubelet's) reads it.
const criTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// CRILog turns the byte streams of a container into entries of the
// kubelet's log format:
//
//	<timestamp> <stdout|stderr> <P|F> <message>\n
//
// one entry per line of output. A line longer than the maximum is cut into
// partial (P) entries of exactly the maximum length, the last piece being a
// full (F) entry; a line still unterminated when its stream ends is written
// as F. With stripCR, the '\r' of a "\r\n" line end (what a terminal's
// output processing adds) is dropped.
//
// Each entry reaches dst in exactly one Write, so dst may drop whole entries.
// Entries of both streams are serialised and stamped under one lock: the
// file's timestamps never go backwards (as long as the clock does not).
// CRILog does no I/O of its own; its clock is an input, so tests are exact.
type CRILog struct {
	dst     io.Writer
	now     func() time.Time
	max     int
	stripCR bool

	mu      sync.Mutex // guards everything below
	partial [2][]byte  // unterminated tail of each stream, at most max bytes
	entry   []byte     // scratch: the entry being formatted
}

// NewCRILog returns a CRILog writing to dst. maxLine <= 0 means
// DefaultMaxLogLine.
func NewCRILog(dst io.Writer, now func() time.Time, maxLine int, stripCR bool) *CRILog {
	if maxLine <= 0 {
		maxLine = DefaultMaxLogLine
	}
	return &CRILog{dst: dst, now: now, max: maxLine, stripCR: stripCR}
}

// Write consumes output p of stream s. p is not retained.
func (l *CRILog) Write(s Stream, p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	partial := l.partial[s]
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			for len(partial)+len(p) > l.max {
				n := l.max - len(partial)
				l.emit(s, 'P', partial, p[:n])
				partial, p = partial[:0], p[n:]
			}
			partial = append(partial, p...)
			break
		}
		line := p[:i]
		p = p[i+1:]
		if l.stripCR {
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			} else if n == 0 && len(partial) > 0 && partial[len(partial)-1] == '\r' {
				partial = partial[:len(partial)-1]
			}
		}
		for len(partial)+len(line) > l.max {
			n := l.max - len(partial)
			l.emit(s, 'P', partial, line[:n])
			partial, line = partial[:0], line[n:]
		}
		l.emit(s, 'F', partial, line)
		partial = partial[:0]
	}
	l.partial[s] = partial
}

// Flush writes the unterminated tail of stream s, if any, as a full entry:
// call it when the stream ends.
func (l *CRILog) Flush(s Stream) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial[s]) > 0 {
		l.emit(s, 'F', l.partial[s], nil)
	}
	l.partial[s] = nil
}

// emit writes one entry whose message is a followed by b.
func (l *CRILog) emit(s Stream, tag byte, a, b []byte) {
	e := l.now().UTC().AppendFormat(l.entry[:0], criTimeLayout)
	e = append(e, ' ')
	e = append(e, s.String()...)
	e = append(e, ' ', tag, ' ')
	e = append(e, a...)
	e = append(e, b...)
	e = append(e, '\n')
	l.dst.Write(e)
	if cap(e) > 4*l.max {
		e = nil // one huge entry must not pin its buffer
	}
	l.entry = e
}

// LogEntry is one parsed CRI log line.
type LogEntry struct {
	Time    time.Time
	Stream  Stream
	Partial bool
	Message []byte
}

// ParseLogEntry parses one line of a CRI log, without its '\n'. It accepts
// exactly what the kubelet's parser accepts.
func ParseLogEntry(line []byte) (LogEntry, error) {
	var e LogEntry
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return e, fmt.Errorf("%w: log line %q has no stream", ErrMalformed, line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return e, fmt.Errorf("%w: log timestamp: %v", ErrMalformed, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return e, fmt.Errorf("%w: log line %q has no tag", ErrMalformed, line)
	}
	switch string(stream) {
	case "stdout":
		e.Stream = Stdout
	case "stderr":
		e.Stream = Stderr
	default:
		return e, fmt.Errorf("%w: log stream %q", ErrMalformed, stream)
	}
	tag, msg, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return e, fmt.Errorf("%w: log line %q has no message", ErrMalformed, line)
	}
	switch string(tag) {
	case "P":
		e.Partial = true
	case "F":
	default:
		return e, fmt.Errorf("%w: log tag %q", ErrMalformed, tag)
	}
	e.Time, e.Message = t, msg
	return e, nil
}
