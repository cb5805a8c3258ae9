package oci

import (
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestProcessArgs(t *testing.T) {
	img := ocispec.ImageConfig{Entrypoint: []string{"/entry", "-x"}, Cmd: []string{"serve", "--port=80"}}
	for _, tc := range []struct {
		name          string
		command, args []string
		img           ocispec.ImageConfig
		want          []string
		err           error
	}{
		{name: "image entrypoint and cmd", img: img, want: []string{"/entry", "-x", "serve", "--port=80"}},
		{name: "command replaces entrypoint and drops cmd", command: []string{"top"}, img: img, want: []string{"top"}},
		{name: "command and args", command: []string{"sh", "-c"}, args: []string{"echo hi"}, img: img, want: []string{"sh", "-c", "echo hi"}},
		{name: "args replace cmd only", args: []string{"debug"}, img: img, want: []string{"/entry", "-x", "debug"}},
		{name: "cmd only image", img: ocispec.ImageConfig{Cmd: []string{"sh"}}, want: []string{"sh"}},
		{name: "args with cmd-only image", args: []string{"ls", "-l"}, img: ocispec.ImageConfig{Cmd: []string{"sh"}}, want: []string{"ls", "-l"}},
		{name: "entrypoint only", img: ocispec.ImageConfig{Entrypoint: []string{"/pause"}}, want: []string{"/pause"}},
		{name: "empty-string entrypoint means none", img: ocispec.ImageConfig{Entrypoint: []string{""}, Cmd: []string{"sh"}}, want: []string{"sh"}},
		{name: "nothing to run", err: ErrInvalid},
		{name: "empty-string entrypoint and no cmd", img: ocispec.ImageConfig{Entrypoint: []string{""}}, err: ErrInvalid},
		{name: "empty program name", command: []string{""}, args: []string{"x"}, err: ErrInvalid},
		{name: "NUL in an argument", command: []string{"echo", "a\x00b"}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ProcessArgs(tc.command, tc.args, tc.img)
			wantErr(t, err, tc.err)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("args = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContainerEnv(t *testing.T) {
	kv := func(k, v string) *runtimeapi.KeyValue { return &runtimeapi.KeyValue{Key: k, Value: []byte(v)} }
	for _, tc := range []struct {
		name     string
		hostname string
		img      []string
		cri      []*runtimeapi.KeyValue
		want     []string
		err      error
	}{
		{name: "default PATH when nobody sets one", want: []string{DefaultPathEnv}},
		{name: "hostname", hostname: "pod-host", want: []string{DefaultPathEnv, "HOSTNAME=pod-host"}},
		{
			name: "image PATH replaces the default in place",
			img:  []string{"FOO=1", "PATH=/bin"},
			want: []string{"PATH=/bin", "FOO=1"},
		},
		{
			name: "request overrides image per key, new keys appended",
			img:  []string{"A=image", "B=image"},
			cri:  []*runtimeapi.KeyValue{kv("B", "cri"), kv("C", "cri"), kv("PATH", "/opt/bin")},
			want: []string{"PATH=/opt/bin", "A=image", "B=cri", "C=cri"},
		},
		{
			name:     "request overrides HOSTNAME",
			hostname: "pod-host",
			cri:      []*runtimeapi.KeyValue{kv("HOSTNAME", "mine")},
			want:     []string{DefaultPathEnv, "HOSTNAME=mine"},
		},
		{name: "later duplicate in the request wins", cri: []*runtimeapi.KeyValue{kv("X", "1"), kv("X", "2")}, want: []string{DefaultPathEnv, "X=2"}},
		{name: "value may contain '='", cri: []*runtimeapi.KeyValue{kv("Q", "a=b")}, want: []string{DefaultPathEnv, "Q=a=b"}},
		{name: "empty value", cri: []*runtimeapi.KeyValue{kv("E", "")}, want: []string{DefaultPathEnv, "E="}},
		{name: "image entries that cannot be passed are dropped", img: []string{"", "=x", "N=\x00", "NOVALUE", "OK=1"}, want: []string{DefaultPathEnv, "OK=1"}},
		{name: "empty key", cri: []*runtimeapi.KeyValue{kv("", "v")}, err: ErrInvalid},
		{name: "key with '='", cri: []*runtimeapi.KeyValue{kv("A=B", "v")}, err: ErrInvalid},
		{name: "NUL in value", cri: []*runtimeapi.KeyValue{kv("A", "x\x00")}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := containerEnv(tc.hostname, tc.img, tc.cri)
			wantErr(t, err, tc.err)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("env = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWorkingDir(t *testing.T) {
	for _, tc := range []struct {
		request, image, want string
		err                  error
	}{
		{want: "/"},
		{image: "/srv", want: "/srv"},
		{image: "app", want: "/app"},
		{request: "/work", image: "/srv", want: "/work"},
		{request: "/work/../data/", want: "/data"},
		{request: "relative", err: ErrInvalid},
		{request: "/a\x00b", err: ErrInvalid},
	} {
		got, err := WorkingDir(tc.request, tc.image)
		wantErr(t, err, tc.err)
		if got != tc.want {
			t.Errorf("WorkingDir(%q, %q) = %q, want %q", tc.request, tc.image, got, tc.want)
		}
	}
}

// TestContainerProcess checks the process section ContainerSpec writes.
func TestContainerProcess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*ContainerInput)
		verify func(*testing.T, []string, string, bool, []string)
	}{
		{
			name: "critest default: busybox top",
			verify: func(t *testing.T, args []string, cwd string, tty bool, env []string) {
				if !slices.Equal(args, []string{"top"}) || cwd != "/" || tty {
					t.Fatalf("args %q cwd %q tty %v", args, cwd, tty)
				}
				if !slices.Equal(env, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=pod-host"}) {
					t.Fatalf("env = %q", env)
				}
			},
		},
		{
			name: "image CMD, tty, image workdir",
			edit: func(in *ContainerInput) {
				in.Config.Command = nil
				in.Config.Tty = true
				in.Image.Config.WorkingDir = "/home"
			},
			verify: func(t *testing.T, args []string, cwd string, tty bool, _ []string) {
				if !slices.Equal(args, []string{"sh"}) || cwd != "/home" || !tty {
					t.Fatalf("args %q cwd %q tty %v", args, cwd, tty)
				}
			},
		},
		{
			name: "host network without a pod hostname takes the node's",
			edit: func(in *ContainerInput) {
				in.Sandbox.Hostname = ""
				podSC(in.Sandbox).NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
				sc(in).NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
			},
			verify: func(t *testing.T, _ []string, _ string, _ bool, env []string) {
				if !slices.Contains(env, "HOSTNAME=node-1") {
					t.Fatalf("env = %q", env)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testContainerInput()
			if tc.edit != nil {
				tc.edit(&in)
			}
			s, _ := mustContainer(t, in)
			tc.verify(t, s.Process.Args, s.Process.Cwd, s.Process.Terminal, s.Process.Env)
		})
	}
}
