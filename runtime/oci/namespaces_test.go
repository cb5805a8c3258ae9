package oci

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func nsOpts(net, pid, ipc runtimeapi.NamespaceMode) *runtimeapi.NamespaceOption {
	return &runtimeapi.NamespaceOption{Network: net, Pid: pid, Ipc: ipc}
}

const (
	pod       = runtimeapi.NamespaceMode_POD
	container = runtimeapi.NamespaceMode_CONTAINER
	node      = runtimeapi.NamespaceMode_NODE
	target    = runtimeapi.NamespaceMode_TARGET
)

func TestSandboxNamespaces(t *testing.T) {
	netns := specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/logbook/netns/cni-1"}
	mnt := specs.LinuxNamespace{Type: specs.MountNamespace}
	uts := specs.LinuxNamespace{Type: specs.UTSNamespace}
	ipc := specs.LinuxNamespace{Type: specs.IPCNamespace}
	pid := specs.LinuxNamespace{Type: specs.PIDNamespace}
	for _, tc := range []struct {
		name     string
		opts     *runtimeapi.NamespaceOption
		v2       bool
		want     []specs.LinuxNamespace
		hostname string
		err      error
	}{
		{name: "all pod", opts: nsOpts(pod, pod, pod), want: []specs.LinuxNamespace{mnt, netns, uts, ipc, pid}, hostname: "pod-host"},
		{name: "nil options mean POD", opts: nil, want: []specs.LinuxNamespace{mnt, netns, uts, ipc, pid}, hostname: "pod-host"},
		{name: "pid CONTAINER still gives pause its own", opts: nsOpts(pod, container, pod), want: []specs.LinuxNamespace{mnt, netns, uts, ipc, pid}, hostname: "pod-host"},
		{name: "host network keeps the host UTS and hostname", opts: nsOpts(node, pod, pod), want: []specs.LinuxNamespace{mnt, ipc, pid}},
		{name: "host pid", opts: nsOpts(pod, node, pod), want: []specs.LinuxNamespace{mnt, netns, uts, ipc}, hostname: "pod-host"},
		{name: "host ipc", opts: nsOpts(pod, pod, node), want: []specs.LinuxNamespace{mnt, netns, uts, pid}, hostname: "pod-host"},
		{name: "cgroup v2 adds a cgroup namespace", opts: nsOpts(node, node, node), v2: true, want: []specs.LinuxNamespace{mnt, {Type: specs.CgroupNamespace}}},
		{name: "network CONTAINER", opts: nsOpts(container, pod, pod), err: ErrInvalid},
		{name: "ipc TARGET", opts: nsOpts(pod, pod, target), err: ErrInvalid},
		{name: "pid TARGET", opts: nsOpts(pod, target, pod), err: ErrInvalid},
		{name: "user namespace with mappings", err: ErrUnsupported, opts: &runtimeapi.NamespaceOption{UsernsOptions: &runtimeapi.UserNamespace{
			Mode: pod, Uids: []*runtimeapi.IDMapping{{HostId: 1000, Length: 65536}}, Gids: []*runtimeapi.IDMapping{{HostId: 1000, Length: 65536}}}}},
		{name: "user namespace NODE", opts: &runtimeapi.NamespaceOption{UsernsOptions: &runtimeapi.UserNamespace{Mode: node}},
			want: []specs.LinuxNamespace{mnt, netns, uts, ipc, pid}, hostname: "pod-host"},
		{name: "user namespace CONTAINER", opts: &runtimeapi.NamespaceOption{UsernsOptions: &runtimeapi.UserNamespace{Mode: container}}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testSandboxInput()
			in.Host.CgroupV2 = tc.v2
			podSC(in.Config).NamespaceOptions = tc.opts
			s, err := SandboxSpec(in)
			wantErr(t, err, tc.err)
			if tc.err != nil {
				return
			}
			jsonEqual(t, s.Linux.Namespaces, tc.want)
			if s.Hostname != tc.hostname {
				t.Fatalf("hostname = %q, want %q", s.Hostname, tc.hostname)
			}
		})
	}
	in := testSandboxInput()
	in.NetNSPath = ""
	_, err := SandboxSpec(in)
	wantErr(t, err, ErrBadInput)
}

func TestContainerNamespaces(t *testing.T) {
	mnt := specs.LinuxNamespace{Type: specs.MountNamespace}
	netns := specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/logbook/netns/cni-1"}
	uts := specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/proc/4242/ns/uts"}
	ipc := specs.LinuxNamespace{Type: specs.IPCNamespace, Path: "/proc/4242/ns/ipc"}
	podPid := specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/4242/ns/pid"}
	ownPid := specs.LinuxNamespace{Type: specs.PIDNamespace}
	for _, tc := range []struct {
		name      string
		podOpts   *runtimeapi.NamespaceOption
		opts      *runtimeapi.NamespaceOption
		paths     func(*SandboxNamespaces)
		want      []specs.LinuxNamespace
		hostname  string
		err       error
		errString string
	}{
		{name: "critest PodPID", podOpts: nsOpts(pod, pod, pod), opts: nsOpts(pod, pod, pod), want: []specs.LinuxNamespace{mnt, netns, uts, ipc, podPid}, hostname: "pod-host"},
		{name: "critest ContainerPID", podOpts: nsOpts(pod, container, pod), opts: nsOpts(pod, container, pod), want: []specs.LinuxNamespace{mnt, netns, uts, ipc, ownPid}, hostname: "pod-host"},
		{name: "critest HostPID", podOpts: nsOpts(pod, node, pod), opts: nsOpts(pod, node, pod), want: []specs.LinuxNamespace{mnt, netns, uts, ipc}, hostname: "pod-host"},
		{name: "critest HostIpc", podOpts: nsOpts(pod, container, node), opts: nsOpts(pod, container, node), want: []specs.LinuxNamespace{mnt, netns, uts, ownPid}, hostname: "pod-host"},
		{name: "critest HostNetwork", podOpts: nsOpts(node, container, pod), opts: nsOpts(node, container, pod), want: []specs.LinuxNamespace{mnt, ipc, ownPid}},
		{name: "private IPC in a pod", podOpts: nsOpts(pod, container, pod), opts: nsOpts(pod, container, container), want: []specs.LinuxNamespace{mnt, netns, uts, {Type: specs.IPCNamespace}, ownPid}, hostname: "pod-host"},
		{name: "pid TARGET joins the target's", podOpts: nsOpts(pod, container, pod),
			opts:  &runtimeapi.NamespaceOption{Pid: target, TargetId: "abc"},
			paths: func(p *SandboxNamespaces) { p.TargetPID = "/proc/777/ns/pid" },
			want:  []specs.LinuxNamespace{mnt, netns, uts, ipc, {Type: specs.PIDNamespace, Path: "/proc/777/ns/pid"}}, hostname: "pod-host"},
		{name: "pid TARGET without target_id", podOpts: nsOpts(pod, container, pod), opts: &runtimeapi.NamespaceOption{Pid: target}, err: ErrInvalid},
		{name: "pid TARGET not resolved", podOpts: nsOpts(pod, container, pod), opts: &runtimeapi.NamespaceOption{Pid: target, TargetId: "abc"}, err: ErrBadInput},
		{name: "network differs from the pod's", podOpts: nsOpts(node, container, pod), opts: nsOpts(pod, container, pod), err: ErrInvalid, errString: "namespace_options.network"},
		{name: "ipc differs from the pod's", podOpts: nsOpts(pod, container, pod), opts: nsOpts(pod, container, node), err: ErrInvalid, errString: "namespace_options.ipc"},
		{name: "network CONTAINER", podOpts: nsOpts(pod, container, pod), opts: nsOpts(container, container, pod), err: ErrUnsupported},
		{name: "pod netns path missing", podOpts: nsOpts(pod, container, pod), opts: nsOpts(pod, container, pod),
			paths: func(p *SandboxNamespaces) { p.Network = "" }, err: ErrBadInput},
		{name: "pod pid path missing", podOpts: nsOpts(pod, pod, pod), opts: nsOpts(pod, pod, pod),
			paths: func(p *SandboxNamespaces) { p.PID = "" }, err: ErrBadInput},
		{name: "user namespace", podOpts: nsOpts(pod, container, pod), err: ErrUnsupported, opts: &runtimeapi.NamespaceOption{Pid: container,
			UsernsOptions: &runtimeapi.UserNamespace{Mode: pod, Uids: []*runtimeapi.IDMapping{{HostId: 1, Length: 1}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testContainerInput()
			podSC(in.Sandbox).NamespaceOptions = tc.podOpts
			sc(&in).NamespaceOptions = tc.opts
			if tc.paths != nil {
				tc.paths(&in.Namespaces)
			}
			s, _, err := ContainerSpec(in)
			wantErr(t, err, tc.err)
			if tc.err != nil {
				if !contains(err.Error(), tc.errString) {
					t.Fatalf("error %q lacks %q", err, tc.errString)
				}
				return
			}
			jsonEqual(t, s.Linux.Namespaces, tc.want)
			if s.Hostname != tc.hostname {
				t.Fatalf("hostname = %q, want %q", s.Hostname, tc.hostname)
			}
		})
	}
}
