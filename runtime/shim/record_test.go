package shim

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	values := []string{"plain", "", "with space", "line\nbreak", `"quoted"`, "tab\there", "ünïcode", "a=b", "\x00\xff"}
	var r record
	for i, v := range values {
		r.add(string(rune('a'+i)), v)
	}
	f, err := parseRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		if got := f.str(string(rune('a' + i))); got != v {
			t.Errorf("value %d: %q, want %q (record %q)", i, got, v, r)
		}
	}
}

func TestParseRecordErrors(t *testing.T) {
	for _, bad := range []string{"novalue\n", "=x\n", "k=\"unterminated\n", "k=1\nk=2\n"} {
		if _, err := parseRecord([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", bad, err)
		}
	}
	f, err := parseRecord([]byte("a=1\n\nunknown=x\nb=2"))
	if err != nil || f.str("a") != "1" || f.str("b") != "2" {
		t.Errorf("blank lines, unknown keys or a missing final newline: %v %v", f, err)
	}
}

type textCodec interface {
	MarshalText() ([]byte, error)
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in  textCodec
		out any // pointer to a zero value of the same type
	}{
		{AttachRequest{Stdin: true, Stderr: true}, &AttachRequest{}},
		{TermSize{Width: 65535, Height: 1}, &TermSize{}},
		{Status{ShimPid: 1, InitPid: 2, Exited: true, StdinOpen: true, LogPath: "/var/log/pods/a b.log",
			LogEntries: 1 << 40, LogDropped: 3, Clients: 4, AttachDropped: 5}, &Status{}},
		{Status{}, &Status{}},
		{Ready{InitPid: 42}, &Ready{}},
		{Ready{Error: "runc create failed: exec: \"x\": not found\nsecond line"}, &Ready{}},
		{Exit{Pid: 7, Status: 137, Signal: 9, At: time.Unix(1700000000, 123456789)}, &Exit{}},
		{Identity{Pid: 9, StartTime: 12345, BootID: "7859c281-b1c9-457d-96e5-e526213ed593"}, &Identity{}},
	} {
		b, err := tc.in.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		dec := tc.out.(interface{ UnmarshalText([]byte) error })
		if err := dec.UnmarshalText(b); err != nil {
			t.Errorf("%T: %v (record %q)", tc.in, err, b)
			continue
		}
		got := reflect.ValueOf(tc.out).Elem().Interface()
		if e, ok := got.(Exit); ok {
			in := tc.in.(Exit)
			if !e.At.Equal(in.At) || e.Pid != in.Pid || e.Status != in.Status || e.Signal != in.Signal {
				t.Errorf("exit %+v, want %+v", e, in)
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.in) {
			t.Errorf("%T: %+v, want %+v", tc.in, got, tc.in)
		}
	}
}

func TestMessagesRejectBadValues(t *testing.T) {
	for _, tc := range []struct {
		rec string
		dec interface{ UnmarshalText([]byte) error }
	}{
		{"width=70000\nheight=1\n", &TermSize{}},
		{"width=-1\nheight=1\n", &TermSize{}},
		{"height=1\n", &TermSize{}},
		{"pid=0\n", &Ready{}},
		{"", &Ready{}},
		{"pid=1\nstatus=256\nsignal=0\nexited_at=1\n", &Exit{}},
		{"pid=1\nstatus=1\nsignal=65\nexited_at=1\n", &Exit{}},
		{"pid=1\nstatus=1\nsignal=0\n", &Exit{}},
		{"pid=1\nstart_time=0\nboot_id=x\n", &Identity{}},
		{"pid=1\nstart_time=5\n", &Identity{}},
		{"shim_pid=x\n", &Status{}},
	} {
		if err := tc.dec.UnmarshalText([]byte(tc.rec)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%T from %q: %v, want ErrMalformed", tc.dec, tc.rec, err)
		}
	}
}
