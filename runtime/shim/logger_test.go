package shim

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestTextLogger(t *testing.T) {
	var buf bytes.Buffer
	l := NewTextLogger(&buf, false, "id", "c1")
	l.Debug("hidden")
	l.Info("container exited", "status", 137, "signal", uint64(9), "ok", true, "err", errors.New("a b"), "kind", KindExit, "odd")
	l.Error("x=y")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	if !strings.HasPrefix(lines[0], "time=") ||
		!strings.HasSuffix(lines[0], ` level=INFO msg="container exited" id=c1 status=137 signal=9 ok=true err="a b" kind=exit odd=`) {
		t.Errorf("line %q", lines[0])
	}
	if !strings.HasSuffix(lines[1], ` level=ERROR msg="x=y" id=c1`) {
		t.Errorf("line %q", lines[1])
	}
	buf.Reset()
	NewTextLogger(&buf, true).Debug("shown")
	if !strings.Contains(buf.String(), "level=DEBUG msg=shown") {
		t.Errorf("debug line %q", buf.String())
	}
}
