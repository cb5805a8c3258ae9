package oci

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestSandboxSysctls(t *testing.T) {
	for _, tc := range []struct {
		name             string
		in               map[string]string
		hostNet, hostIPC bool
		want             map[string]string
		err              error
	}{
		{name: "none", want: nil},
		{name: "critest shm_rmid_forced", in: map[string]string{"kernel.shm_rmid_forced": "1"}, want: map[string]string{"kernel.shm_rmid_forced": "1"}},
		{name: "critest mqueue", in: map[string]string{"fs.mqueue.msg_max": "100"}, want: map[string]string{"fs.mqueue.msg_max": "100"}},
		{name: "ipc family", in: map[string]string{"kernel.shmmax": "1", "kernel.msgmnb": "2", "kernel.sem": "250 32000 32 128"},
			want: map[string]string{"kernel.shmmax": "1", "kernel.msgmnb": "2", "kernel.sem": "250 32000 32 128"}},
		{name: "net", in: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}, want: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}},
		{name: "slash form is normalised", in: map[string]string{"net/ipv4/conf/eth0/forwarding": "1"}, want: map[string]string{"net.ipv4.conf.eth0.forwarding": "1"}},
		{name: "net with host IPC is fine", hostIPC: true, in: map[string]string{"net.core.somaxconn": "1024"}, want: map[string]string{"net.core.somaxconn": "1024"}},
		{name: "ipc with host network is fine", hostNet: true, in: map[string]string{"kernel.msgmax": "8192"}, want: map[string]string{"kernel.msgmax": "8192"}},
		{name: "node-wide sysctl", in: map[string]string{"vm.swappiness": "0"}, err: ErrInvalid},
		{name: "kernel.sem prefix is not a family", in: map[string]string{"kernel.semaphores": "1"}, err: ErrInvalid},
		{name: "ipc sysctl with host IPC", hostIPC: true, in: map[string]string{"kernel.shm_rmid_forced": "1"}, err: ErrInvalid},
		{name: "net sysctl with host network", hostNet: true, in: map[string]string{"net.ipv4.ip_forward": "1"}, err: ErrInvalid},
		{name: "bad name", in: map[string]string{"net..ipv4": "1"}, err: ErrInvalid},
		{name: "slash form with a dot", in: map[string]string{"net/ipv4/conf/eth0.100/forwarding": "1"}, err: ErrInvalid},
		{name: "newline in value", in: map[string]string{"net.core.somaxconn": "1\n2"}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SandboxSysctls(tc.in, tc.hostNet, tc.hostIPC)
			wantErr(t, err, tc.err)
			jsonEqual(t, got, tc.want)
		})
	}
}

func TestSysctlErrorNamesTheSysctl(t *testing.T) {
	_, err := SandboxSysctls(map[string]string{"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1"}, true, true)
	if err == nil || !contains(err.Error(), "kernel.shm_rmid_forced") {
		t.Fatalf("error %v should name the first offending sysctl (sorted)", err)
	}
}

func TestSandboxSpecSysctls(t *testing.T) {
	in := testSandboxInput()
	in.Config.Linux.Sysctls = map[string]string{"kernel.shm_rmid_forced": "1"}
	s := mustSandbox(t, in)
	jsonEqual(t, s.Linux.Sysctl, map[string]string{"kernel.shm_rmid_forced": "1"})

	podSC(in.Config).NamespaceOptions.Ipc = runtimeapi.NamespaceMode_NODE
	_, err := SandboxSpec(in)
	wantErr(t, err, ErrInvalid)
}
