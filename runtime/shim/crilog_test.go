package shim

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock returns t0, t0+1ns, t0+2ns, ...
func fakeClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Nanosecond)
		return t
	}
}

// entryWriter records each Write as one entry.
type entryWriter struct{ entries []string }

func (w *entryWriter) Write(p []byte) (int, error) {
	w.entries = append(w.entries, string(p))
	return len(p), nil
}

type logWrite struct {
	s    Stream
	data string
}

func TestCRILog(t *testing.T) {
	const ts = "2026-01-02T03:04:05.0000000" // + nanosecond digits + Z
	stamp := func(n int) string { return ts + string(rune('0'+n/10)) + string(rune('0'+n%10)) + "Z " }
	for _, tc := range []struct {
		name    string
		max     int
		stripCR bool
		writes  []logWrite
		flush   []Stream
		want    []string
	}{
		{name: "one line", max: 8, writes: []logWrite{{Stdout, "hello\n"}},
			want: []string{stamp(1) + "stdout F hello\n"}},
		{name: "two lines in one write", max: 8, writes: []logWrite{{Stderr, "a\nb\n"}},
			want: []string{stamp(1) + "stderr F a\n", stamp(2) + "stderr F b\n"}},
		{name: "line across writes", max: 8, writes: []logWrite{{Stdout, "he"}, {Stdout, "llo"}, {Stdout, "\n"}},
			want: []string{stamp(1) + "stdout F hello\n"}},
		{name: "empty line", max: 8, writes: []logWrite{{Stdout, "\n"}},
			want: []string{stamp(1) + "stdout F \n"}},
		{name: "exactly max", max: 4, writes: []logWrite{{Stdout, "abcd\n"}},
			want: []string{stamp(1) + "stdout F abcd\n"}},
		{name: "exactly max across writes", max: 4, writes: []logWrite{{Stdout, "abcd"}, {Stdout, "\n"}},
			want: []string{stamp(1) + "stdout F abcd\n"}},
		{name: "one over max", max: 4, writes: []logWrite{{Stdout, "abcde\n"}},
			want: []string{stamp(1) + "stdout P abcd\n", stamp(2) + "stdout F e\n"}},
		{name: "long unterminated", max: 4, writes: []logWrite{{Stdout, "abcdefghij"}},
			want: []string{stamp(1) + "stdout P abcd\n", stamp(2) + "stdout P efgh\n"}},
		{name: "long unterminated flushed", max: 4, writes: []logWrite{{Stdout, "abcdefghij"}}, flush: []Stream{Stdout},
			want: []string{stamp(1) + "stdout P abcd\n", stamp(2) + "stdout P efgh\n", stamp(3) + "stdout F ij\n"}},
		{name: "partial tail fills up across writes", max: 4, writes: []logWrite{{Stdout, "ab"}, {Stdout, "cdef"}, {Stdout, "\n"}},
			want: []string{stamp(1) + "stdout P abcd\n", stamp(2) + "stdout F ef\n"}},
		{name: "streams keep their own tails", max: 8,
			writes: []logWrite{{Stdout, "o1"}, {Stderr, "e1\n"}, {Stdout, "o2\n"}},
			want:   []string{stamp(1) + "stderr F e1\n", stamp(2) + "stdout F o1o2\n"}},
		{name: "flush of an empty tail writes nothing", max: 8, writes: []logWrite{{Stdout, "x\n"}}, flush: []Stream{Stdout, Stderr},
			want: []string{stamp(1) + "stdout F x\n"}},
		{name: "cr kept without stripCR", max: 8, writes: []logWrite{{Stdout, "a\r\n"}},
			want: []string{stamp(1) + "stdout F a\r\n"}},
		{name: "crlf stripped", max: 8, stripCR: true, writes: []logWrite{{Stdout, "a\r\nb\r\n"}},
			want: []string{stamp(1) + "stdout F a\n", stamp(2) + "stdout F b\n"}},
		{name: "crlf split across writes", max: 8, stripCR: true, writes: []logWrite{{Stdout, "ab\r"}, {Stdout, "\n"}},
			want: []string{stamp(1) + "stdout F ab\n"}},
		{name: "cr at max is not a split", max: 4, stripCR: true, writes: []logWrite{{Stdout, "abcd\r\n"}},
			want: []string{stamp(1) + "stdout F abcd\n"}},
		{name: "lone cr kept", max: 8, stripCR: true, writes: []logWrite{{Stdout, "a\rb\n"}},
			want: []string{stamp(1) + "stdout F a\rb\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w entryWriter
			l := NewCRILog(&w, fakeClock(), tc.max, tc.stripCR)
			for _, wr := range tc.writes {
				l.Write(wr.s, []byte(wr.data))
			}
			for _, s := range tc.flush {
				l.Flush(s)
			}
			if strings.Join(w.entries, "|") != strings.Join(tc.want, "|") {
				t.Errorf("entries\n%q\nwant\n%q", w.entries, tc.want)
			}
		})
	}
}

func TestCRILogDoesNotRetainInput(t *testing.T) {
	var w entryWriter
	l := NewCRILog(&w, fakeClock(), 16, false)
	buf := []byte("abc")
	l.Write(Stdout, buf)
	copy(buf, "xyz")
	l.Write(Stdout, []byte("\n"))
	if len(w.entries) != 1 || !strings.HasSuffix(w.entries[0], " F abc\n") {
		t.Fatalf("entries %q", w.entries)
	}
}

func TestParseLogEntry(t *testing.T) {
	good := []struct {
		line    string
		stream  Stream
		partial bool
		msg     string
	}{
		{"2026-01-02T03:04:05.000000001Z stdout F hello", Stdout, false, "hello"},
		{"2026-01-02T03:04:05Z stderr P a b c", Stderr, true, "a b c"},
		{"2026-01-02T03:04:05.5+02:00 stdout F ", Stdout, false, ""},
	}
	for _, g := range good {
		e, err := ParseLogEntry([]byte(g.line))
		if err != nil || e.Stream != g.stream || e.Partial != g.partial || string(e.Message) != g.msg {
			t.Errorf("%q: %+v %q, %v", g.line, e, e.Message, err)
		}
	}
	for _, bad := range []string{
		"", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z stdout", "2026-01-02T03:04:05Z stdout F",
		"yesterday stdout F x", "2026-01-02T03:04:05Z stdin F x", "2026-01-02T03:04:05Z stdout X x",
	} {
		if _, err := ParseLogEntry([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzCRILog checks, for any output cut into any writes, that every entry
// parses, partial entries are exactly max long and no entry is longer, time
// never goes back, and the entries give back the output (plus the newline
// that ends an unterminated last line; with stripCR, "\r\n" as "\n").
func FuzzCRILog(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), []byte{3, 1}, uint8(4), false)
	f.Add([]byte("abcdefghijklmnopqrstuvwxyz"), []byte{5}, uint8(7), false)
	f.Add([]byte("\n\n\nx"), []byte{1, 1, 1}, uint8(1), false)
	f.Add([]byte("a\r\nb"), []byte{2}, uint8(2), true)
	f.Add([]byte("abcd\r\r\nx\r"), []byte{4, 1}, uint8(4), true)
	f.Fuzz(func(t *testing.T, out []byte, cuts []byte, max uint8, stripCR bool) {
		if max == 0 {
			max = 1
		}
		var w entryWriter
		l := NewCRILog(&w, fakeClock(), int(max), stripCR)
		rest := out
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) && int(cuts[i]) < n {
				n = int(cuts[i])
			}
			l.Write(Stdout, rest[:n])
			rest = rest[n:]
		}
		l.Flush(Stdout)

		var got []byte
		var last time.Time
		for _, raw := range w.entries {
			if !strings.HasSuffix(raw, "\n") || strings.Count(raw, "\n") != 1 {
				t.Fatalf("entry %q is not one line", raw)
			}
			e, err := ParseLogEntry([]byte(raw[:len(raw)-1]))
			if err != nil {
				t.Fatalf("entry %q: %v", raw, err)
			}
			if e.Stream != Stdout {
				t.Fatalf("entry %q on the wrong stream", raw)
			}
			if len(e.Message) > int(max) || (e.Partial && len(e.Message) != int(max)) {
				t.Fatalf("entry %q: %d bytes, max %d", raw, len(e.Message), max)
			}
			if !e.Time.After(last) {
				t.Fatalf("entry %q: time %v not after %v", raw, e.Time, last)
			}
			last = e.Time
			got = append(got, e.Message...)
			if !e.Partial {
				got = append(got, '\n')
			}
		}
		want := out
		if stripCR {
			want = bytes.ReplaceAll(want, []byte("\r\n"), []byte("\n"))
		}
		if len(want) > 0 && want[len(want)-1] != '\n' {
			want = append(bytes.Clone(want), '\n')
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("entries give back %q, want %q", got, want)
		}
	})
}

func BenchmarkCRILog(b *testing.B) {
	line := []byte(strings.Repeat("x", 120) + "\n")
	chunk := bytes.Repeat(line, 256) // 31 KiB, like one pipe read
	l := NewCRILog(discard{}, time.Now, DefaultMaxLogLine, false)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		l.Write(Stdout, chunk)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
