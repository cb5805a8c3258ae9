package projector

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

func TestSandboxCRI(t *testing.T) {
	nsOpts := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER, TargetId: "x"}
	withNS := sandboxCreating("sb")
	withNS.RuntimeHandler = "runc"
	withNS.Config.Linux = &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: nsOpts}}
	cfg := withNS.Config
	net := sandboxReady("sb").Network
	ips := &runtimeapi.PodSandboxNetworkStatus{Ip: "10.88.0.7", AdditionalIps: []*runtimeapi.PodIP{{Ip: "fd00::7"}}}
	noIPs := &runtimeapi.PodSandboxNetworkStatus{}
	linux := func(o *runtimeapi.NamespaceOption) *runtimeapi.LinuxPodSandboxStatus {
		return &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: o}}
	}

	for _, tc := range []struct {
		name      string
		sb        *Sandbox
		state     runtimeapi.PodSandboxState
		network   *runtimeapi.PodSandboxNetworkStatus
		namespace *runtimeapi.NamespaceOption
	}{
		{"ready", &Sandbox{ID: "sb", State: SandboxReady, Config: cfg, RuntimeHandler: "runc", CreatedAt: 11, Network: net},
			runtimeapi.PodSandboxState_SANDBOX_READY, ips, nsOpts},
		{"stopped keeps its IPs until teardown", &Sandbox{ID: "sb", State: SandboxNotReady, Config: cfg, RuntimeHandler: "runc", CreatedAt: 11, Network: net},
			runtimeapi.PodSandboxState_SANDBOX_NOTREADY, ips, nsOpts},
		{"torn down", &Sandbox{ID: "sb", State: SandboxNotReady, Config: cfg, RuntimeHandler: "runc", CreatedAt: 11, Network: net, NetworkTornDown: true},
			runtimeapi.PodSandboxState_SANDBOX_NOTREADY, noIPs, nsOpts},
		{"host network", &Sandbox{ID: "sb", State: SandboxReady, Config: cfg, RuntimeHandler: "runc", CreatedAt: 11},
			runtimeapi.PodSandboxState_SANDBOX_READY, noIPs, nsOpts},
		{"no namespace options", &Sandbox{ID: "sb", State: SandboxReady, Config: podConfig("p"), RuntimeHandler: "runc", CreatedAt: 11,
			Network: &events.SandboxNetwork{Ip: "10.0.0.1"}},
			runtimeapi.PodSandboxState_SANDBOX_READY, &runtimeapi.PodSandboxNetworkStatus{Ip: "10.0.0.1"}, &runtimeapi.NamespaceOption{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.sb.Config
			wantStatus := &runtimeapi.PodSandboxStatus{
				Id: "sb", Metadata: c.Metadata, State: tc.state, CreatedAt: 11, Network: tc.network,
				Linux: linux(tc.namespace), Labels: c.Labels, Annotations: c.Annotations, RuntimeHandler: "runc",
			}
			if d := protoDiff(wantStatus, tc.sb.CRIStatus()); d != "" {
				t.Errorf("CRIStatus (-want +got):\n%s", d)
			}
			wantList := &runtimeapi.PodSandbox{
				Id: "sb", Metadata: c.Metadata, State: tc.state, CreatedAt: 11,
				Labels: c.Labels, Annotations: c.Annotations, RuntimeHandler: "runc",
			}
			if d := protoDiff(wantList, tc.sb.CRI()); d != "" {
				t.Errorf("CRI (-want +got):\n%s", d)
			}
		})
	}
}

// Labels and annotations are echoed exactly (critest's "preserving
// attributes"), through the journal's encoding and the fold.
func TestCRIEchoesLabelsAndAnnotations(t *testing.T) {
	f := newFixture(t)
	cr := sandboxCreating("sb")
	cr.Config.Metadata.Attempt = 2
	cr.Config.Labels = map[string]string{"foo": "bar", "io.kubernetes.pod.name": "fake-pod-name", "io.kubernetes.pod.namespace": "fake-pod-namespace", "io.kubernetes.pod.uid": "fake-pod-uid"}
	cr.Config.Annotations = map[string]string{"abc": "def", "empty": ""}
	f.must("sb", "", cr)
	f.must("sb", "", sandboxReady("sb"))
	cc := containerCreating("c")
	cc.Config.Labels = map[string]string{"foo": "bar", "io.kubernetes.container.name": "n"}
	cc.Config.Annotations = map[string]string{"abc": "def"}
	f.must("sb", "c", cc)
	f.must("", "c", &events.ContainerCreated{})

	sb, _ := f.s.Sandbox("sb")
	c, _ := f.s.Container("c")
	for _, got := range []map[string]string{sb.CRI().Labels, sb.CRIStatus().Labels} {
		if d := protoDiff(cr.Config.Labels, got); d != "" {
			t.Errorf("sandbox labels: %s", d)
		}
	}
	for _, got := range []map[string]string{sb.CRI().Annotations, sb.CRIStatus().Annotations} {
		if d := protoDiff(cr.Config.Annotations, got); d != "" {
			t.Errorf("sandbox annotations: %s", d)
		}
	}
	if sb.CRIStatus().Metadata.Attempt != 2 || c.CRIStatus().Metadata.Attempt != 2 {
		t.Error("attempt not echoed")
	}
	for _, got := range []map[string]string{c.CRI().Labels, c.CRIStatus().Labels} {
		if d := protoDiff(cc.Config.Labels, got); d != "" {
			t.Errorf("container labels: %s", d)
		}
	}
	for _, got := range []map[string]string{c.CRI().Annotations, c.CRIStatus().Annotations} {
		if d := protoDiff(cc.Config.Annotations, got); d != "" {
			t.Errorf("container annotations: %s", d)
		}
	}
}

func TestContainerCRI(t *testing.T) {
	cfg := ctrConfig("web")
	spec := &runtimeapi.ImageSpec{Image: imageID(1), UserSpecifiedImage: "busybox:1.36"}
	mounts := []*runtimeapi.Mount{{ContainerPath: "/mnt", HostPath: "/srv", Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL}}
	user := &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: 5, Gid: 6, SupplementalGroups: []int64{7}}}
	res := &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 15 << 20}}
	base := Container{
		ID: "c", SandboxID: "sb", Config: cfg, ImageID: imageID(1), Image: spec, ImageRef: "docker.io/library/busybox@sha256:" + strings.Repeat("cd", 32),
		LogPath: "/var/log/pods/p/web.log", Mounts: mounts, User: user, StopSignal: runtimeapi.Signal_SIGNAL_SIGTERM,
		Resources: res, Pid: 9, CreatedAt: 100,
	}
	with := func(mod func(c *Container)) *Container {
		c := base
		mod(&c)
		return &c
	}
	type want struct {
		state                     runtimeapi.ContainerState
		started, finished         int64
		exit                      int32
		reason, message, imageRef string
	}
	for _, tc := range []struct {
		name string
		c    *Container
		want want
	}{
		{"created", with(func(c *Container) { c.State = ContainerCreated }),
			want{state: runtimeapi.ContainerState_CONTAINER_CREATED, imageRef: base.ImageRef}},
		{"running", with(func(c *Container) { c.State, c.StartedAt = ContainerRunning, 200 }),
			want{state: runtimeapi.ContainerState_CONTAINER_RUNNING, started: 200, imageRef: base.ImageRef}},
		{"exited with its reason", with(func(c *Container) {
			c.State, c.StartedAt, c.FinishedAt, c.ExitCode, c.Reason, c.Message = ContainerExited, 200, 300, 137, "OOMKilled", "oom"
		}), want{state: runtimeapi.ContainerState_CONTAINER_EXITED, started: 200, finished: 300, exit: 137, reason: "OOMKilled", message: "oom", imageRef: base.ImageRef}},
		{"exited 0 without reason", with(func(c *Container) {
			c.State, c.StartedAt, c.FinishedAt = ContainerExited, 200, 300
		}), want{state: runtimeapi.ContainerState_CONTAINER_EXITED, started: 200, finished: 300, reason: "Completed", imageRef: base.ImageRef}},
		{"exited 1 without reason", with(func(c *Container) {
			c.State, c.StartedAt, c.FinishedAt, c.ExitCode = ContainerExited, 200, 300, 1
		}), want{state: runtimeapi.ContainerState_CONTAINER_EXITED, started: 200, finished: 300, exit: 1, reason: "Error", imageRef: base.ImageRef}},
		{"start failed", with(func(c *Container) {
			c.State, c.FinishedAt, c.ExitCode, c.Reason, c.Message = ContainerExited, 300, 128, "StartError", "no such file"
		}), want{state: runtimeapi.ContainerState_CONTAINER_EXITED, finished: 300, exit: 128, reason: "StartError", message: "no such file", imageRef: base.ImageRef}},
		{"no image ref: the image id", with(func(c *Container) { c.State, c.ImageRef = ContainerCreated, "" }),
			want{state: runtimeapi.ContainerState_CONTAINER_CREATED, imageRef: imageID(1)}},
		{"internal state: unknown", with(func(c *Container) { c.State = ContainerCreating }),
			want{state: runtimeapi.ContainerState_CONTAINER_UNKNOWN, imageRef: base.ImageRef}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.want
			wantStatus := &runtimeapi.ContainerStatus{
				Id: "c", Metadata: cfg.Metadata, State: w.state, CreatedAt: 100, StartedAt: w.started, FinishedAt: w.finished,
				ExitCode: w.exit, Image: spec, ImageRef: w.imageRef, Reason: w.reason, Message: w.message,
				Labels: cfg.Labels, Annotations: cfg.Annotations, Mounts: mounts, LogPath: "/var/log/pods/p/web.log",
				Resources: res, ImageId: imageID(1), User: user, StopSignal: runtimeapi.Signal_SIGNAL_SIGTERM,
			}
			if d := protoDiff(wantStatus, tc.c.CRIStatus()); d != "" {
				t.Errorf("CRIStatus (-want +got):\n%s", d)
			}
			wantList := &runtimeapi.Container{
				Id: "c", PodSandboxId: "sb", Metadata: cfg.Metadata, Image: spec, ImageRef: w.imageRef, State: w.state,
				CreatedAt: 100, Labels: cfg.Labels, Annotations: cfg.Annotations, ImageId: imageID(1),
			}
			if d := protoDiff(wantList, tc.c.CRI()); d != "" {
				t.Errorf("CRI (-want +got):\n%s", d)
			}
		})
	}
}

func TestImageCRI(t *testing.T) {
	uid := int64(1003)
	ann := map[string]string{"k": "v"}
	for _, tc := range []struct {
		name string
		img  *Image
		want *runtimeapi.Image
	}{
		{"tags, digests and a uid",
			&Image{ID: imageID(1), Size: 42, UID: &uid, Annotations: ann, Names: []string{"a.io/x:1", "a.io/x@sha256:" + strings.Repeat("1", 64), "b.io/y:2"}},
			&runtimeapi.Image{Id: imageID(1), RepoTags: []string{"a.io/x:1", "b.io/y:2"}, RepoDigests: []string{"a.io/x@sha256:" + strings.Repeat("1", 64)},
				Size: 42, Uid: &runtimeapi.Int64Value{Value: 1003}, Spec: &runtimeapi.ImageSpec{Image: imageID(1), Annotations: ann}}},
		{"only a digest and a username",
			&Image{ID: imageID(2), Size: 7, Username: "www-data", Names: []string{"gcr.io/t@sha256:" + strings.Repeat("2", 64)}},
			&runtimeapi.Image{Id: imageID(2), RepoDigests: []string{"gcr.io/t@sha256:" + strings.Repeat("2", 64)}, Size: 7,
				Username: "www-data", Spec: &runtimeapi.ImageSpec{Image: imageID(2)}}},
		{"no names, no user",
			&Image{ID: imageID(3), Size: 1},
			&runtimeapi.Image{Id: imageID(3), Size: 1, Spec: &runtimeapi.ImageSpec{Image: imageID(3)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := protoDiff(tc.want, tc.img.CRI()); d != "" {
				t.Errorf("CRI (-want +got):\n%s", d)
			}
		})
	}
}

// critest "all kinds of references": the same message whatever key the
// image is looked up by.
func TestImageStatusSameByEveryKey(t *testing.T) {
	f := newFixture(t)
	id := imageID(9)
	f.must("", "", imagePulled(id))
	names := []string{"gcr.io/k8s-staging-cri-tools/test-image-tag:all", "gcr.io/k8s-staging-cri-tools/test-image-tag@sha256:" + strings.Repeat("9", 64)}
	for _, n := range names {
		f.must("", "", &events.ImageTagged{ImageId: id, Name: n})
	}
	img, _ := f.s.Image(id)
	want := img.CRI()
	for _, key := range append([]string{id, strings.TrimPrefix(id, "sha256:")}, append(want.RepoTags, want.RepoDigests...)...) {
		got, ok := f.s.Image(key)
		if !ok || !proto.Equal(got.CRI(), want) {
			t.Errorf("Image(%q) = %v, want %v", key, got, want)
		}
	}
	if len(want.RepoTags) != 1 || len(want.RepoDigests) != 1 {
		t.Fatalf("names not split: %v", want)
	}
}

func TestVerboseInfo(t *testing.T) {
	f := newFixture(t)
	f.containerIn("sb", "c", ContainerRunning)
	sb, _ := f.s.Sandbox("sb")
	c, _ := f.s.Container("c")
	var si map[string]any
	if err := json.Unmarshal([]byte(sb.VerboseInfo()["info"]), &si); err != nil {
		t.Fatal(err)
	}
	if si["pid"] != float64(4242) || si["netNamespacePath"] != "/run/netns/cni-sb" || si["cniResult"].(map[string]any)["cniVersion"] != "1.0.0" {
		t.Fatalf("sandbox info %v", si)
	}
	if si["config"].(map[string]any)["hostname"] != "pod-sb" {
		t.Fatalf("sandbox info config %v", si["config"])
	}
	var ci map[string]any
	if err := json.Unmarshal([]byte(c.VerboseInfo()["info"]), &ci); err != nil {
		t.Fatal(err)
	}
	if ci["sandboxID"] != "sb" || ci["pid"] != float64(101) || ci["state"] != "Running" {
		t.Fatalf("container info %v", ci)
	}
}
