package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestSetupTeardown: a real bridge + host-local chain gives the pod an IP
// of the network's subnet that the host reaches; Teardown releases the
// lease and the pod's interface, and a second Teardown succeeds too.
func TestSetupTeardown(t *testing.T) {
	requireCNI(t, "bridge", "host-local")
	tn := newTestNet(t, 1)
	tn.writeConf(t, "10-test.conflist", tn.bridgeChain())
	m := tn.manager(t, Options{})
	if ready, reason, msg := m.NetworkStatus(); !ready {
		t.Fatalf("not ready: %s %s", reason, msg)
	}
	ns, id, pod := newNetNS(t), sandboxID(t), podConfig(t)
	ctx := context.Background()

	res, err := m.Setup(ctx, id, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := netip.ParseAddr(res.Ip)
	if err != nil || !netip.MustParsePrefix(tn.subnet).Contains(ip) {
		t.Fatalf("pod IP %q is not in %s", res.Ip, tn.subnet)
	}
	if res.NetworkName != tn.name || len(res.AdditionalIps) != 0 {
		t.Fatalf("result %+v", res)
	}
	if r, err := decodeResult(res.CniResult); err != nil {
		t.Fatalf("journaled result does not decode: %v", err)
	} else if p, _, err := podIPs(r, IfName); err != nil || p != res.Ip {
		t.Fatalf("journaled result gives %q, %v; want %s", p, err, res.Ip)
	}
	if got := tn.leases(t); got[res.Ip] != id || len(got) != 1 {
		t.Fatalf("leases %v, want %s held by %s", got, res.Ip, id)
	}
	if !linkInNetNS(t, ns, IfName) {
		t.Fatal("no eth0 in the pod namespace")
	}
	servePod(t, ns, 8080, "hello from "+id[:8])
	if got := dial(t, net.JoinHostPort(res.Ip, "8080"), 10*time.Second); got != "hello from "+id[:8] {
		t.Fatalf("pod answered %q", got)
	}

	if err := m.Teardown(ctx, id, ns, pod, res); err != nil {
		t.Fatal(err)
	}
	if got := tn.leases(t); len(got) != 0 {
		t.Fatalf("leases after teardown: %v", got)
	}
	if linkInNetNS(t, ns, IfName) {
		t.Fatal("eth0 still in the pod namespace after teardown")
	}
	if rec, err := m.attachments.get(id); rec != nil || err != nil {
		t.Fatalf("attachment record after teardown: %+v, %v", rec, err)
	}
	// Idempotent: again with the journaled result, and with none.
	if err := m.Teardown(ctx, id, ns, pod, res); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	if err := m.Teardown(ctx, id, ns, pod, nil); err != nil {
		t.Fatalf("teardown of a never-journaled attachment: %v", err)
	}
}

// TestHostPort: a mapping with a host port answers on 127.0.0.1:<hostport>
// through portmap; one with only a container port is not given to
// portmap; Teardown removes the rules.
func TestHostPort(t *testing.T) {
	requireCNI(t, "bridge", "host-local", "portmap")
	tn := newTestNet(t, 2)
	tn.writeConf(t, "10-test.conflist", tn.bridgeChain(portmapPlugin))
	m := tn.manager(t, Options{})
	ns, id, pod := newNetNS(t), sandboxID(t), podConfig(t)
	hostPort := freePort(t)
	pod.PortMappings = []*runtimeapi.PortMapping{
		{ContainerPort: 8080, HostPort: int32(hostPort)},
		{ContainerPort: 9090}, // container port only: must not reach portmap
	}
	ctx := context.Background()
	res, err := m.Setup(ctx, id, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	servePod(t, ns, 8080, "via host port")
	if got := dial(t, fmt.Sprintf("127.0.0.1:%d", hostPort), 10*time.Second); got != "via host port" {
		t.Fatalf("host port answered %q", got)
	}
	rules := natRules(t)
	if !strings.Contains(rules, id) || !strings.Contains(rules, fmt.Sprint(hostPort)) {
		t.Fatalf("no portmap rule for %s on port %d:\n%s", id, hostPort, rules)
	}
	if strings.Contains(rules, "9090") {
		t.Fatalf("the container-port-only mapping reached portmap:\n%s", rules)
	}

	if err := m.Teardown(ctx, id, ns, pod, res); err != nil {
		t.Fatal(err)
	}
	if rules := natRules(t); strings.Contains(rules, id) {
		t.Fatalf("rules of %s left after teardown:\n%s", id, rules)
	}
	if got := tn.leases(t); len(got) != 0 {
		t.Fatalf("leases after teardown: %v", got)
	}
}

// TestTeardownWithoutCache: with the whole cache (libcni's results and the
// attachment records) gone, as after a wiped root, Teardown still
// releases the lease and the rules with the current network and the
// journaled result.
func TestTeardownWithoutCache(t *testing.T) {
	requireCNI(t, "bridge", "host-local", "portmap")
	tn := newTestNet(t, 3)
	tn.writeConf(t, "10-test.conflist", tn.bridgeChain(portmapPlugin))
	m := tn.manager(t, Options{})
	ns, id, pod := newNetNS(t), sandboxID(t), podConfig(t)
	pod.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: int32(freePort(t))}}
	ctx := context.Background()
	res, err := m.Setup(ctx, id, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(tn.cache); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(ctx, id, ns, pod, res); err != nil {
		t.Fatal(err)
	}
	if got := tn.leases(t); len(got) != 0 {
		t.Fatalf("leases after teardown without cache: %v", got)
	}
	if rules := natRules(t); strings.Contains(rules, id) {
		t.Fatalf("rules of %s left:\n%s", id, rules)
	}
}

// TestTeardownAfterNetnsGone: the namespace was removed first (or the
// node rebooted); DEL still releases the lease.
func TestTeardownAfterNetnsGone(t *testing.T) {
	requireCNI(t, "bridge", "host-local")
	tn := newTestNet(t, 4)
	tn.writeConf(t, "10-test.conflist", tn.bridgeChain())
	m := tn.manager(t, Options{})
	ns, id, pod := newNetNS(t), sandboxID(t), podConfig(t)
	ctx := context.Background()
	res, err := m.Setup(ctx, id, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	if err := unmount(ns); err != nil {
		t.Fatal(err)
	}
	if liveNetNS(ns) != "" {
		t.Fatal("an unmounted namespace file counts as live")
	}
	if err := m.Teardown(ctx, id, ns, pod, res); err != nil {
		t.Fatal(err)
	}
	if got := tn.leases(t); len(got) != 0 {
		t.Fatalf("leases: %v", got)
	}
}

// TestAddFailureLeavesNothing: the chain's last plugin refuses ADD after
// bridge and host-local allocated; Setup fails and leaves no lease, no
// interface and no record.
func TestAddFailureLeavesNothing(t *testing.T) {
	requireCNI(t, "bridge", "host-local")
	tn := newTestNet(t, 5)
	tn.installPlugin(t, "fail-add")
	tn.writeConf(t, "10-test.conflist", tn.bridgeChain(`{"type":"fail-add"}`))
	m := tn.manager(t, Options{})
	ns, id, pod := newNetNS(t), sandboxID(t), podConfig(t)
	_, err := m.Setup(context.Background(), id, ns, pod)
	if !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), "ADD refused on purpose") {
		t.Fatalf("Setup: err = %v, want ErrSetup carrying the plugin's message", err)
	}
	if errors.Is(err, ErrTeardown) {
		t.Fatalf("the undo failed: %v", err)
	}
	if got := tn.leases(t); len(got) != 0 {
		t.Fatalf("leases after a failed ADD: %v", got)
	}
	if linkInNetNS(t, ns, IfName) {
		t.Fatal("eth0 left in the namespace after a failed ADD")
	}
	if rec, _ := m.attachments.get(id); rec != nil {
		t.Fatalf("attachment record left: %+v", rec)
	}
}

// TestCrashBetweenAddAndJournal: the process dies right after ADD, before
// the sandbox could journal the result (emulated by ending the goroutine
// in AfterAdd: nothing after that point runs). A new Manager on the same
// directories, given no journaled result, releases everything.
func TestCrashBetweenAddAndJournal(t *testing.T) {
	requireCNI(t, "bridge", "host-local", "portmap")
	tn := newTestNet(t, 6)
	tn.writeConf(t, "10-test.conflist", tn.bridgeChain(portmapPlugin))
	ns, id, pod := newNetNS(t), sandboxID(t), podConfig(t)
	pod.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: int32(freePort(t))}}

	crashed := make(chan struct{})
	m1 := tn.manager(t, Options{AfterAdd: func(string) { close(crashed); runtime.Goexit() }})
	go func() {
		_, _ = m1.Setup(context.Background(), id, ns, pod)
		t.Error("Setup returned past the crash point")
	}()
	<-crashed
	m1.Close()
	if got := tn.leases(t); len(got) != 1 {
		t.Fatalf("leases after ADD: %v, want one", got)
	}

	// Meanwhile the operator replaced the configuration: DEL must still
	// use what ADD used.
	if err := os.Remove(filepath.Join(tn.confDir, "10-test.conflist")); err != nil {
		t.Fatal(err)
	}
	m2 := tn.manager(t, Options{})
	if ready, _, _ := m2.NetworkStatus(); ready {
		t.Fatal("ready without a configuration")
	}
	if err := m2.Teardown(context.Background(), id, ns, pod, nil); err != nil {
		t.Fatal(err)
	}
	if got := tn.leases(t); len(got) != 0 {
		t.Fatalf("leases after recovery: %v", got)
	}
	if rules := natRules(t); strings.Contains(rules, id) {
		t.Fatalf("rules of %s left:\n%s", id, rules)
	}
}

// recorded reads what the recorder plugin saw for one command.
func recorded(t *testing.T, tn *testNet, command string) (env map[string]string, stdin map[string]any) {
	t.Helper()
	envB, err := os.ReadFile(filepath.Join(tn.binDir, command+".env"))
	if err != nil {
		t.Fatalf("the plugin saw no %s: %v", command, err)
	}
	env = map[string]string{}
	for _, line := range strings.Split(string(envB), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	inB, err := os.ReadFile(filepath.Join(tn.binDir, command+".stdin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(inB, &stdin); err != nil {
		t.Fatalf("%s stdin: %v: %s", command, err, inB)
	}
	return env, stdin
}

// TestArgumentsReachPlugin: the CNI args, the interface name, the netns
// and every capability arg reach the plugin, on ADD and, unchanged, on
// DEL; the IPs are chosen from the plugin's real output.
func TestArgumentsReachPlugin(t *testing.T) {
	requireCNI(t)
	tn := newTestNet(t, 250)
	tn.installPlugin(t, "recorder")
	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":"1.0.0","name":"rec","plugins":[
		{"type":"recorder","capabilities":{"portMappings":true,"dns":true,"bandwidth":true,"ipRanges":true}}]}`)
	m := tn.manager(t, Options{})
	if err := m.UpdatePodCIDRs(context.Background(), []string{"10.199.250.0/24"}); err != nil {
		t.Fatal(err)
	}
	ns, id, pod := newNetNS(t), sandboxID(t), podConfig(t)
	pod.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 12345, Protocol: runtimeapi.Protocol_UDP}, {ContainerPort: 81}}
	pod.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"10.10.10.10"}, Searches: []string{"example.test"}, Options: []string{"ndots:8"}}
	pod.Annotations = map[string]string{IngressBandwidthAnnotation: "10M"}

	res, err := m.Setup(context.Background(), id, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ip != "10.199.250.5" || len(res.AdditionalIps) != 1 || res.AdditionalIps[0] != "fd00:199::5" {
		t.Fatalf("IPs %q %q, want 10.199.250.5 [fd00:199::5]", res.Ip, res.AdditionalIps)
	}
	wantArgs := fmt.Sprintf("IgnoreUnknown=1;K8S_POD_NAMESPACE=network-test;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s",
		pod.Metadata.Name, id, pod.Metadata.Uid)
	wantRC := `{"portMappings":[{"hostPort":12345,"containerPort":80,"protocol":"udp"}],
		"dns":{"servers":["10.10.10.10"],"searches":["example.test"],"options":["ndots:8"]},
		"bandwidth":{"ingressRate":10000000,"ingressBurst":2147483647},
		"ipRanges":[[{"subnet":"10.199.250.0/24"}]]}`
	check := func(command string) map[string]any {
		env, stdin := recorded(t, tn, command)
		for k, want := range map[string]string{"CNI_ARGS": wantArgs, "CNI_IFNAME": "eth0", "CNI_CONTAINERID": id, "CNI_NETNS": ns} {
			if env[k] != want {
				t.Errorf("%s: %s=%q, want %q", command, k, env[k], want)
			}
		}
		if !jsonEqual(t, stdin["runtimeConfig"], wantRC) {
			t.Errorf("%s: runtimeConfig %v, want %s", command, stdin["runtimeConfig"], wantRC)
		}
		return stdin
	}
	check("ADD")

	// The pod CIDR changes before the DEL: DEL still gets ADD's arguments.
	if err := m.UpdatePodCIDRs(context.Background(), []string{"10.199.251.0/24"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(context.Background(), id, ns, pod, res); err != nil {
		t.Fatal(err)
	}
	if stdin := check("DEL"); stdin["prevResult"] == nil {
		t.Error("DEL got no prevResult")
	}
}

// TestDelGetsJournaledResult: with libcni's cache and the records gone,
// DEL hands the plugins the journaled result as prevResult.
func TestDelGetsJournaledResult(t *testing.T) {
	requireCNI(t)
	tn := newTestNet(t, 251)
	tn.installPlugin(t, "recorder")
	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":"1.0.0","name":"rec","plugins":[{"type":"recorder"}]}`)
	m := tn.manager(t, Options{})
	ns, id, pod := newNetNS(t), sandboxID(t), podConfig(t)
	res, err := m.Setup(context.Background(), id, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(tn.cache); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(context.Background(), id, ns, pod, res); err != nil {
		t.Fatal(err)
	}
	_, stdin := recorded(t, tn, "DEL")
	prev, _ := json.Marshal(stdin["prevResult"])
	r, err := decodeResult(prev)
	if err != nil {
		t.Fatalf("DEL prevResult %s: %v", prev, err)
	}
	if ip, _, err := podIPs(r, IfName); err != nil || ip != res.Ip {
		t.Fatalf("DEL prevResult gives %q, %v; want %s", ip, err, res.Ip)
	}
}

func jsonEqual(t *testing.T, got any, want string) bool {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(w)
	return string(a) == string(b)
}

// TestHostNetworkPodIsNotAttached: a host-network pod gets no CNI call.
func TestHostNetworkPodIsNotAttached(t *testing.T) {
	requireCNI(t)
	tn := newTestNet(t, 252)
	tn.installPlugin(t, "recorder")
	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":"1.0.0","name":"rec","plugins":[{"type":"recorder"}]}`)
	m := tn.manager(t, Options{})
	pod := podConfig(t)
	pod.Linux = &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}}
	id := sandboxID(t)
	res, err := m.Setup(context.Background(), id, "", pod)
	if res != nil || err != nil {
		t.Fatalf("Setup = %v, %v; want nothing", res, err)
	}
	if err := m.Teardown(context.Background(), id, "", pod, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tn.binDir, "ADD.env")); !os.IsNotExist(err) {
		t.Fatalf("the plugin ran for a host-network pod (%v)", err)
	}
}

// TestSetupNotReady: without a network Setup fails at once with
// ErrNotReady, and an invalid pod is refused before any plugin runs.
func TestSetupRefusals(t *testing.T) {
	requireCNI(t)
	tn := newTestNet(t, 253)
	m := tn.manager(t, Options{})
	ns, id := newNetNS(t), sandboxID(t)
	if _, err := m.Setup(context.Background(), id, ns, podConfig(t)); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Setup without a network: %v", err)
	}
	tn.installPlugin(t, "recorder")
	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":"1.0.0","name":"rec","plugins":[{"type":"recorder"}]}`)
	waitFor(t, "ready", 10*time.Second, func() bool { r, _, _ := m.NetworkStatus(); return r })
	bad := podConfig(t)
	bad.PortMappings = []*runtimeapi.PortMapping{{HostPort: 70000, ContainerPort: 1}}
	if _, err := m.Setup(context.Background(), id, ns, bad); !errors.Is(err, ErrInvalidPodConfig) {
		t.Fatalf("bad pod: %v", err)
	}
	if _, err := m.Setup(context.Background(), "../escape", ns, podConfig(t)); !errors.Is(err, ErrInvalidPodConfig) {
		t.Fatalf("bad ID: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tn.binDir, "ADD.env")); !os.IsNotExist(err) {
		t.Fatalf("the plugin ran for a refused pod (%v)", err)
	}
}

