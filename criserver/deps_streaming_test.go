package criserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/criserver/streamserver"
	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/streaming"
)

// kubeletRecvLimit is the receive limit of a kubelet's CRI client.
const kubeletRecvLimit = 16 << 20

type fakeExec struct {
	res   streaming.ExecSyncResult
	err   error
	calls []string
}

func (f *fakeExec) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (streaming.ExecSyncResult, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s %s %v", id, strings.Join(cmd, " "), timeout))
	return f.res, f.err
}

type fakeStreams struct {
	err   error
	calls []string
}

func (f *fakeStreams) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	f.calls = append(f.calls, "exec "+req.GetContainerId())
	return &runtimeapi.ExecResponse{Url: "http://127.0.0.1:1/exec/t"}, f.err
}

func (f *fakeStreams) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	f.calls = append(f.calls, "attach "+req.GetContainerId())
	return &runtimeapi.AttachResponse{Url: "http://127.0.0.1:1/attach/t"}, f.err
}

func (f *fakeStreams) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	f.calls = append(f.calls, "portforward "+req.GetPodSandboxId())
	return &runtimeapi.PortForwardResponse{Url: "http://127.0.0.1:1/portforward/t"}, f.err
}

func TestExecSyncAdapter(t *testing.T) {
	f := &fakeExec{}
	c := serve(t, Deps{Config: testConfig(t), Exec: f}, discard(), nil)
	ctx := context.Background()

	f.res = streaming.ExecSyncResult{Stdout: []byte("out"), Stderr: []byte("err"), ExitCode: 3}
	var hdr metadata.MD
	resp, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"id", "-u"}, Timeout: 2}, grpc.Header(&hdr))
	if err != nil || string(resp.GetStdout()) != "out" || string(resp.GetStderr()) != "err" || resp.GetExitCode() != 3 {
		t.Errorf("ExecSync = %v, %v", resp, err)
	}
	if len(f.calls) != 1 || f.calls[0] != "c id -u 2s" {
		t.Errorf("calls %q", f.calls)
	}
	if v := hdr.Get(OutputCutHeader); len(v) != 0 {
		t.Errorf("an uncut output has the header %q", v)
	}

	f.res = streaming.ExecSyncResult{Stdout: []byte("kept"), Cut: true,
		Usage: [2]streaming.StreamCut{{Kept: 4, Written: 1 << 30}, {Kept: 0, Written: 0}}}
	if _, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"yes"}}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if v := hdr.Get(OutputCutHeader); len(v) != 1 || v[0] != "stdout=4/1073741824,stderr=0/0" {
		t.Errorf("cut header %q", v)
	}

	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("container x: %w", runtime.ErrNotFound), codes.NotFound},
		{fmt.Errorf("%w: %w", runtime.ErrFailedPrecondition, streaming.ErrNotRunning), codes.FailedPrecondition},
		{fmt.Errorf("%w: %w: killed", streaming.ErrTimeout, context.DeadlineExceeded), codes.DeadlineExceeded},
	} {
		f.err = tc.err
		_, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"sleep", "9"}, Timeout: 1})
		assertCode(t, err, tc.code, tc.err.Error())
	}
	f.err = nil
	if _, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"true"}, Timeout: 1 << 62}); err != nil {
		t.Fatal(err)
	}
	if last := f.calls[len(f.calls)-1]; last != "c true 0s" {
		t.Errorf("a timeout past a Duration's range became %q, want none", last)
	}
	n := len(f.calls)
	_, err = c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c"})
	assertCode(t, err, codes.InvalidArgument, "cmd")
	if len(f.calls) != n {
		t.Error("an ExecSync without a command reached the runtime")
	}
}

// TestExecSyncFullBudgetFitsTheKubelet: a response carrying the whole
// output budget reaches a client with a kubelet's receive limit; one
// carrying 16 MiB per stream (containerd's cap) does not.
func TestExecSyncFullBudgetFitsTheKubelet(t *testing.T) {
	f := &fakeExec{}
	c := serve(t, Deps{Config: testConfig(t), Exec: f}, discard(), nil)
	ctx := context.Background()
	limit := grpc.MaxCallRecvMsgSize(kubeletRecvLimit)

	f.res = streaming.ExecSyncResult{Stdout: make([]byte, streaming.OutputBudget-100), Stderr: make([]byte, 100), ExitCode: -1}
	resp, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"yes"}}, limit)
	if err != nil || len(resp.GetStdout())+len(resp.GetStderr()) != streaming.OutputBudget {
		t.Fatalf("a full-budget response: %v", err)
	}

	f.res = streaming.ExecSyncResult{Stdout: make([]byte, 16<<20), Stderr: make([]byte, 16<<20)}
	_, err = c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"yes"}}, limit)
	assertCode(t, err, codes.ResourceExhausted, "")
}

func TestStreamingURLAdapters(t *testing.T) {
	f := &fakeStreams{}
	c := serve(t, Deps{Config: testConfig(t), Streams: f}, discard(), nil)
	ctx := context.Background()

	if r, err := c.runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"sh"}, Stdout: true}); err != nil || !strings.Contains(r.GetUrl(), "/exec/") {
		t.Errorf("Exec = %v, %v", r, err)
	}
	if r, err := c.runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: "c", Stdout: true}); err != nil || !strings.Contains(r.GetUrl(), "/attach/") {
		t.Errorf("Attach = %v, %v", r, err)
	}
	if r, err := c.runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "p", Port: []int32{80}}); err != nil || !strings.Contains(r.GetUrl(), "/portforward/") {
		t.Errorf("PortForward = %v, %v", r, err)
	}
	if want := "exec c|attach c|portforward p"; strings.Join(f.calls, "|") != want {
		t.Errorf("calls %q, want %q", f.calls, want)
	}

	_, err := c.runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "p", Port: []int32{70000}})
	assertCode(t, err, codes.InvalidArgument, "port")
	_, err = c.runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "c", Stdout: true})
	assertCode(t, err, codes.InvalidArgument, "cmd")
	_, err = c.runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: "c"})
	assertCode(t, err, codes.InvalidArgument, "stdin, stdout or stderr")

	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("%w: 1000 pending", streamserver.ErrTooManySessions), codes.ResourceExhausted},
		{streamserver.ErrClosed, codes.Unavailable},
		{fmt.Errorf("container x: %w", runtime.ErrNotFound), codes.NotFound},
		{fmt.Errorf("%w: %w", runtime.ErrFailedPrecondition, streaming.ErrNotReady), codes.FailedPrecondition},
	} {
		f.err = tc.err
		_, err := c.runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"sh"}, Stdout: true})
		assertCode(t, err, tc.code, "")
		_, err = c.runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "p"})
		assertCode(t, err, tc.code, "")
	}
}

func TestStreamingRPCsUnimplementedWithoutDeps(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	ctx := context.Background()
	_, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c", Cmd: []string{"true"}})
	assertCode(t, err, codes.Unimplemented, "ExecSync")
	_, err = c.runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"sh"}, Stdout: true})
	assertCode(t, err, codes.Unimplemented, "Exec")
	_, err = c.runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: "c", Stdout: true})
	assertCode(t, err, codes.Unimplemented, "Attach")
	_, err = c.runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "p"})
	assertCode(t, err, codes.Unimplemented, "PortForward")
}
