package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// pluginWaitDelay bounds the wait for a plugin's output once the plugin
// was killed or has exited: a process that escaped its group and holds
// the pipes cannot keep the call past it.
const pluginWaitDelay = 2 * time.Second

// pluginExec runs CNI plugins as libcni's own executor (invoke.RawExec)
// does, except that a plugin stuck in a child process cannot hold up its
// caller. RawExec kills only the plugin when the context ends and then
// waits for its stdout to close; a plugin stuck in a child (a shell
// plugin, iptables waiting for its lock) leaves that child holding the
// pipe, and the wait, with RunPodSandbox and its locks, never ends. Here
// the plugin runs in a process group of its own, the whole group is
// killed when the context ends, and the wait for the pipes is bounded by
// pluginWaitDelay.
type pluginExec struct {
	stderr io.Writer
	version.PluginDecoder
}

var _ invoke.Exec = (*pluginExec)(nil)

func (e *pluginExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

// ExecPlugin runs the plugin at path with stdin and environ and returns
// its stdout. A plugin that fails returns its CNI error (types.Error)
// when it printed one; a context that ends first returns an error
// wrapping the context's.
func (e *pluginExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	for try := 0; ; try++ {
		var stdout, stderr bytes.Buffer
		c := exec.CommandContext(ctx, path)
		c.Env = environ
		c.Stdin = bytes.NewReader(stdin)
		c.Stdout, c.Stderr = &stdout, &stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
		c.WaitDelay = pluginWaitDelay
		err := c.Run()
		if err == nil {
			if e.stderr != nil && stderr.Len() > 0 {
				stderr.WriteTo(e.stderr)
			}
			return stdout.Bytes(), nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("CNI plugin %s: %w", path, ctx.Err())
		}
		// The plugin binary being written as it is run: libcni's executor
		// waits and tries again, so does this one.
		if strings.Contains(err.Error(), "text file busy") && try < 5 {
			time.Sleep(time.Second)
			continue
		}
		return nil, pluginError(err, stdout.Bytes(), stderr.Bytes())
	}
}

// pluginError is the error of a failed plugin: the CNI error it printed,
// or a description of its stderr and exit.
func pluginError(err error, stdout, stderr []byte) error {
	var ee *exec.ExitError
	if len(stdout) > 0 {
		msg := &types.Error{}
		if json.Unmarshal(stdout, msg) == nil && msg.Msg != "" {
			return msg
		}
		return &types.Error{Msg: fmt.Sprintf("netplugin failed but error parsing its diagnostic message %q: %v", stdout, err)}
	}
	if len(stderr) > 0 {
		return &types.Error{Msg: fmt.Sprintf("netplugin failed: %q: %v", stderr, err)}
	}
	if errors.As(err, &ee) {
		return &types.Error{Msg: fmt.Sprintf("netplugin failed with no error message: %v", err)}
	}
	return err
}
