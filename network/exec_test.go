package network

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// writePlugin writes a shell plugin into a temporary directory.
func writePlugin(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPluginExecOutput(t *testing.T) {
	e := &pluginExec{}
	p := writePlugin(t, `echo "$CNI_COMMAND"; cat`)
	out, err := e.ExecPlugin(context.Background(), p, []byte(`{"x":1}`), []string{"CNI_COMMAND=ADD"})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "ADD\n{\"x\":1}" {
		t.Errorf("stdout %q", out)
	}
}

func TestPluginExecError(t *testing.T) {
	e := &pluginExec{}
	cases := []struct {
		name, script, want string
	}{
		{"CNI error", `echo '{"cniVersion":"1.0.0","code":7,"msg":"boom"}'; exit 1`, "boom"},
		{"garbage", `echo 'not json'; exit 1`, `error parsing its diagnostic message "not json\n"`},
		{"stderr", `echo oops >&2; exit 2`, `netplugin failed: "oops\n": exit status 2`},
		{"silent", `exit 3`, "netplugin failed with no error message: exit status 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.ExecPlugin(context.Background(), writePlugin(t, tc.script), nil, nil)
			var ce *types.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *types.Error", err, err)
			}
			if !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("message %q, want %q in it", ce.Msg, tc.want)
			}
		})
	}
}

// TestPluginExecHungChild: a plugin stuck in a child process that holds
// its stdout ends at the caller's deadline (plus the bounded wait for the
// pipes), with the context's error, and the child is killed with it.
func TestPluginExecHungChild(t *testing.T) {
	e := &pluginExec{}
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := writePlugin(t, "sleep 3600 &\necho $! >"+pidFile+"\nwait\n")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.ExecPlugin(ctx, p, nil, nil)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want one matching context.DeadlineExceeded", err)
	}
	if took > 500*time.Millisecond+pluginWaitDelay+2*time.Second {
		t.Errorf("returned after %v", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin's child %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
