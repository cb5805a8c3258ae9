package runc

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestCreateStarted: with Start, the shim runs the container at once (runc
// run --detach): Create returns a running container, whose output is
// logged and whose exit is recorded as for a created one.
func TestCreateStarted(t *testing.T) {
	e := newEnv(t)
	o := e.options(ctr{args: []string{"sh", "-c", "echo started; exec sleep 1000"}})
	o.Start = true
	ctx := context.Background()
	s, err := e.r.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c := &created{CreateOptions: o, shim: s}
	t.Cleanup(func() { e.destroy(o.ID, c.shim) })
	st, err := e.r.State(ctx, o.ID)
	if err != nil || st.Status != "running" || st.Pid != s.InitPid() {
		t.Fatalf("state after Create with Start: %+v, %v", st, err)
	}
	eventually(t, 10*time.Second, "the log line", func() bool {
		b, _ := os.ReadFile(o.LogPath)
		return bytes.Contains(b, []byte(" stdout F started\n"))
	})
	if err := e.r.Kill(ctx, o.ID, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if ex := e.wait(c); ex.Status != 137 || ex.Signal != 9 {
		t.Fatalf("exit %+v, want 137", ex)
	}
}
