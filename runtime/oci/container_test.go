package oci

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestContainerSecurity(t *testing.T) {
	privileged := func(in *ContainerInput) {
		sc(in).Privileged = true
		podSC(in.Sandbox).Privileged = true
	}
	for _, tc := range []struct {
		name  string
		edit  func(*ContainerInput)
		check func(*testing.T, *specs.Spec)
		err   error
	}{
		{name: "unprivileged defaults", check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Linux.MaskedPaths, DefaultMaskedPaths()) || !slices.Equal(s.Linux.ReadonlyPaths, DefaultReadonlyPaths()) {
				t.Fatalf("masked %q readonly %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
			if s.Process.NoNewPrivileges || s.Root.Readonly || s.Linux.Seccomp != nil || s.Process.ApparmorProfile != "" {
				t.Fatalf("nothing asked, nothing set: %+v", s.Process)
			}
			jsonEqual(t, s.Linux.Resources.Devices, []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}})
		}},
		{name: "critest masked_paths [/bin/ls]", edit: func(in *ContainerInput) { sc(in).MaskedPaths = []string{"/bin/ls"} }, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Linux.MaskedPaths, []string{"/bin/ls"}) || !slices.Equal(s.Linux.ReadonlyPaths, DefaultReadonlyPaths()) {
				t.Fatalf("masked %q readonly %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
		}},
		{name: "critest readonly_paths [/tmp]", edit: func(in *ContainerInput) { sc(in).ReadonlyPaths = []string{"/tmp"} }, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Linux.ReadonlyPaths, []string{"/tmp"}) || !slices.Equal(s.Linux.MaskedPaths, DefaultMaskedPaths()) {
				t.Fatalf("masked %q readonly %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
		}},
		{name: "critest no_new_privs and readonly rootfs", edit: func(in *ContainerInput) { sc(in).NoNewPrivs, sc(in).ReadonlyRootfs = true, true }, check: func(t *testing.T, s *specs.Spec) {
			if !s.Process.NoNewPrivileges || !s.Root.Readonly {
				t.Fatal("no_new_privs and readonly rootfs must be set")
			}
		}},
		{name: "critest privileged: everything open", edit: func(in *ContainerInput) {
			privileged(in)
			in.Host.Devices = []HostDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11, FileMode: 0o644}}
			sc(in).MaskedPaths = []string{"/bin/ls"}
			sc(in).Seccomp = &runtimeapi.SecurityProfile{}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil || s.Linux.Seccomp != nil {
				t.Fatalf("masked %q readonly %q seccomp %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths, s.Linux.Seccomp)
			}
			if !slices.Equal(s.Process.Capabilities.Bounding, AllCapabilities()) {
				t.Fatal("all capabilities")
			}
			jsonEqual(t, s.Linux.Resources.Devices, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}})
			if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/kmsg" {
				t.Fatalf("devices %+v", s.Linux.Devices)
			}
		}},
		{name: "privileged container in an unprivileged pod", edit: func(in *ContainerInput) { sc(in).Privileged = true }, err: ErrInvalid},
		{name: "relative masked path", edit: func(in *ContainerInput) { sc(in).MaskedPaths = []string{"proc/kcore"} }, err: ErrInvalid},
		{name: "root as readonly path", edit: func(in *ContainerInput) { sc(in).ReadonlyPaths = []string{"/"} }, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testContainerInput()
			if tc.edit != nil {
				tc.edit(&in)
			}
			s, _, err := ContainerSpec(in)
			wantErr(t, err, tc.err)
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestContainerAnnotations(t *testing.T) {
	in := testContainerInput()
	in.Config.Annotations = map[string]string{"abc": "def"}
	s, _ := mustContainer(t, in)
	jsonEqual(t, s.Annotations, map[string]string{
		AnnotationContainerType: ContainerTypeContainer, AnnotationSandboxID: testSandboxID,
		AnnotationSandboxName: "pod", AnnotationSandboxNamespace: "ns", AnnotationSandboxUID: "uid-1",
		AnnotationContainerName: "ctr", AnnotationImageName: "registry.k8s.io/e2e-test-images/busybox:1.29-2",
	})
}

func TestContainerSpecInputErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*ContainerInput)
		err  error
	}{
		{name: "no config", edit: func(in *ContainerInput) { in.Config = nil }, err: ErrBadInput},
		{name: "no pod config", edit: func(in *ContainerInput) { in.Sandbox = nil }, err: ErrBadInput},
		{name: "bad container id", edit: func(in *ContainerInput) { in.ID = "a/b" }, err: ErrBadInput},
		{name: "bad sandbox id", edit: func(in *ContainerInput) { in.SandboxID = "" }, err: ErrBadInput},
		{name: "relative rootfs", edit: func(in *ContainerInput) { in.Rootfs = "rootfs" }, err: ErrBadInput},
		{name: "relative pod file", edit: func(in *ContainerInput) { in.Files.Hosts = "hosts" }, err: ErrBadInput},
		{name: "no metadata", edit: func(in *ContainerInput) { in.Config.Metadata = nil }, err: ErrInvalid},
		{name: "bad pod hostname", edit: func(in *ContainerInput) { in.Sandbox.Hostname = "a\x00b" }, err: ErrInvalid},
		{name: "bad oom_score_adj", edit: func(in *ContainerInput) {
			in.Config.Linux.Resources = &runtimeapi.LinuxContainerResources{OomScoreAdj: 2000}
		}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testContainerInput()
			tc.edit(&in)
			_, _, err := ContainerSpec(in)
			wantErr(t, err, tc.err)
		})
	}
}
