package criserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestCodeOf(t *testing.T) {
	cases := []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{fmt.Errorf("x: %w", ErrMissingField), codes.InvalidArgument},
		{fmt.Errorf("x: %w", ErrInvalidField), codes.InvalidArgument},
		{notImplemented("Foo"), codes.Unimplemented},
		{fmt.Errorf("pull: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{fmt.Errorf("pull: %w", context.Canceled), codes.Canceled},
		{fmt.Errorf("append: %w", journal.ErrClosed), codes.Unavailable},
		{fmt.Errorf("open: %w", journal.ErrLocked), codes.Unavailable},
		{fmt.Errorf("tail: %w", journal.ErrCompacted), codes.OutOfRange},
		{fmt.Errorf("read: %w", journal.ErrCorrupt), codes.DataLoss},
		{fmt.Errorf("fold: %w", events.ErrUnknownType), codes.DataLoss},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, codes.ResourceExhausted},
		// A status from below keeps its code, even wrapped.
		{fmt.Errorf("remote: %w", status.Error(codes.NotFound, "gone")), codes.NotFound},
		// Several joined: the first classified one decides.
		{errors.Join(fmt.Errorf("a: %w", ErrMissingField), errors.New("b")), codes.InvalidArgument},
		{errors.New("something nobody classified"), codes.Unknown},
	}
	for _, tc := range cases {
		if got := codeOf(tc.err); got != tc.want {
			t.Errorf("codeOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
		st := status.Convert(toStatus(tc.err))
		if st.Code() != tc.want {
			t.Errorf("toStatus(%v) has code %v, want %v", tc.err, st.Code(), tc.want)
		}
		if tc.err != nil && !strings.Contains(st.Message(), strings.Split(tc.err.Error(), "\n")[0]) {
			t.Errorf("toStatus(%v) lost the message: %q", tc.err, st.Message())
		}
	}
}

// TestSentinelTable: every row maps a distinct sentinel, and no row is
// shadowed by an earlier one.
func TestSentinelTable(t *testing.T) {
	rows := sentinelCodes()
	for i, r := range rows {
		if r.err == nil {
			t.Errorf("row %d has a nil error", i)
			continue
		}
		if got := codeOf(fmt.Errorf("wrapped: %w", r.err)); got != r.code {
			t.Errorf("%v maps to %v, but codeOf gives %v (shadowed by an earlier row?)", r.err, r.code, got)
		}
	}
}

func TestParseRuntimeVersion(t *testing.T) {
	cases := []struct {
		name, out string
		want      OCIRuntime
		wantErr   bool
	}{
		{"runc", "runc version 1.1.5\ncommit: v1.1.5-0-gf19387a\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n",
			OCIRuntime{Name: "runc", Version: "1.1.5", Commit: "v1.1.5-0-gf19387a", Spec: "1.0.2-dev", Details: "go: go1.19.8; libseccomp: 2.5.4"}, false},
		{"crun", "crun version 1.8.1\ncommit: f8a096be060b22ccd3d5f3ebe44108517fbf6c30\nrundir: /run/user/0/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX\n",
			OCIRuntime{Name: "crun", Version: "1.8.1", Commit: "f8a096be060b22ccd3d5f3ebe44108517fbf6c30", Spec: "1.0.0", Details: "rundir: /run/user/0/crun; +SYSTEMD +SELINUX"}, false},
		{"bare", "runc version 1.2.0", OCIRuntime{Name: "runc", Version: "1.2.0"}, false},
		{"empty", "", OCIRuntime{}, true},
		{"garbage", "Usage: runc [options]\n", OCIRuntime{}, true},
		{"no version", "runc version \n", OCIRuntime{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRuntimeVersion(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRuncProbeMissing(t *testing.T) {
	_, err := RuncProbe{Path: "/nonexistent/runc"}.Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/runc") {
		t.Errorf("err = %v, want one naming the path", err)
	}
}

func TestBuildVersion(t *testing.T) {
	withSettings := func(version string, kv ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Version: version}}
		for i := 0; i+1 < len(kv); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return info
	}
	cases := []struct {
		name   string
		linked string
		info   *debug.BuildInfo
		ok     bool
		want   string
	}{
		{"linked wins", "v0.3.0-4-gabc", withSettings("v9.9.9"), true, "v0.3.0-4-gabc"},
		{"module version", "", withSettings("v0.2.0"), true, "v0.2.0"},
		{"vcs revision", "", withSettings("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "false"), true, "devel-0123456789ab"},
		{"dirty", "", withSettings("(devel)", "vcs.revision", "abc", "vcs.modified", "true"), true, "devel-abc-dirty"},
		{"nothing recorded", "", withSettings("(devel)"), true, "devel"},
		{"no build info", "", nil, false, "devel"},
	}
	for _, tc := range cases {
		if got := buildVersion(tc.linked, tc.info, tc.ok); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestRedact: the CRI marks AuthConfig's secrets debug_redact; the log form
// of a request drops them and keeps everything else, and the request itself
// is untouched.
func TestRedact(t *testing.T) {
	req := &runtimeapi.PullImageRequest{
		Image: &runtimeapi.ImageSpec{Image: "registry.example/app:1"},
		Auth: &runtimeapi.AuthConfig{
			Username: "alice", Password: "hunter2", Auth: "c2VjcmV0",
			IdentityToken: "id-token-secret", RegistryToken: "reg-token-secret",
		},
		SandboxConfig: &runtimeapi.PodSandboxConfig{Labels: map[string]string{"app": "web"}},
	}
	out := redacted{req}.LogValue().String()
	for _, secret := range []string{"hunter2", "c2VjcmV0", "id-token-secret", "reg-token-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log form %s contains %q", out, secret)
		}
	}
	for _, kept := range []string{"registry.example/app:1", "alice", "web"} {
		if !strings.Contains(out, kept) {
			t.Errorf("log form %s lost %q", out, kept)
		}
	}
	if req.GetAuth().GetPassword() != "hunter2" {
		t.Error("redaction changed the request itself")
	}
}
