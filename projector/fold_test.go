package projector

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

// Guards: rows that exist but refuse because of another object's state.
func TestGuards(t *testing.T) {
	type step struct {
		sid, cid string
		m        proto.Message
	}
	for _, tc := range []struct {
		name   string
		setup  func(f *fixture)
		try    step
		object string
		id     string
		from   string
		noRow  bool // refused by the table (no reason), not by a guard
	}{
		{
			name:   "container.creating in an absent sandbox",
			setup:  func(f *fixture) {},
			try:    step{"nope", "c", containerCreating("c")},
			object: "container", id: "c", from: "Absent",
		},
		{
			name:   "container.creating in a Creating sandbox",
			setup:  func(f *fixture) { f.sandboxIn("sb", SandboxCreating) },
			try:    step{"sb", "c", containerCreating("c")},
			object: "container", id: "c", from: "Absent",
		},
		{
			name:   "container.creating in a NotReady sandbox",
			setup:  func(f *fixture) { f.sandboxIn("sb", SandboxNotReady) },
			try:    step{"sb", "c", containerCreating("c")},
			object: "container", id: "c", from: "Absent",
		},
		{
			name:   "container.creating in a removed sandbox",
			setup:  func(f *fixture) { f.sandboxIn("sb", SandboxRemoved) },
			try:    step{"sb", "c", containerCreating("c")},
			object: "container", id: "c", from: "Absent",
		},
		{
			name:   "container.creating with the ID of a sandbox",
			setup:  func(f *fixture) { f.sandboxIn("sb", SandboxReady) },
			try:    step{"sb", "sb", containerCreating("sb")},
			object: "container", id: "sb", from: "Absent",
		},
		{
			name:   "container.creating with the ID of a removed sandbox",
			setup:  func(f *fixture) { f.sandboxIn("old", SandboxRemoved); f.sandboxIn("sb", SandboxReady) },
			try:    step{"sb", "old", containerCreating("old")},
			object: "container", id: "old", from: "Removed", noRow: true,
		},
		{
			name: "container.creating with a name already held in the sandbox",
			setup: func(f *fixture) {
				f.containerIn("sb", "c1", ContainerExited)
			},
			try:    step{"sb", "c2", containerCreating("c1")}, // same metadata as c1
			object: "container", id: "c2", from: "Absent",
		},
		{
			name:   "container event naming another sandbox",
			setup:  func(f *fixture) { f.containerIn("sb", "c", ContainerCreated); f.sandboxIn("sb2", SandboxReady) },
			try:    step{"sb2", "c", &events.ContainerStarted{Pid: 1}},
			object: "container", id: "c", from: "Created",
		},
		{
			name:   "sandbox.creating with the ID of a container",
			setup:  func(f *fixture) { f.containerIn("sb", "c", ContainerCreated) },
			try:    step{"c", "", sandboxCreating("c")},
			object: "sandbox", id: "c", from: "Absent",
		},
		{
			name:   "sandbox.creating with a name already held",
			setup:  func(f *fixture) { f.sandboxIn("sb", SandboxNotReady) },
			try:    step{"sb2", "", sandboxCreating("sb")}, // same metadata as sb
			object: "sandbox", id: "sb2", from: "Absent",
		},
		{
			name:   "sandbox.stopped with a running container",
			setup:  func(f *fixture) { f.containerIn("sb", "c", ContainerRunning) },
			try:    step{"sb", "", &events.SandboxStopped{}},
			object: "sandbox", id: "sb", from: "Ready",
		},
		{
			name:   "sandbox.stopped with a created container",
			setup:  func(f *fixture) { f.containerIn("sb", "c", ContainerCreated) },
			try:    step{"sb", "", &events.SandboxStopped{}},
			object: "sandbox", id: "sb", from: "Ready",
		},
		{
			name:   "sandbox.stopped with a container being created",
			setup:  func(f *fixture) { f.containerIn("sb", "c", ContainerCreating) },
			try:    step{"sb", "", &events.SandboxStopped{}},
			object: "sandbox", id: "sb", from: "Ready",
		},
		{
			name: "sandbox.network_torn_down twice",
			setup: func(f *fixture) {
				f.sandboxIn("sb", SandboxNotReady)
				f.must("sb", "", &events.SandboxNetworkTornDown{})
			},
			try:    step{"sb", "", &events.SandboxNetworkTornDown{}},
			object: "sandbox", id: "sb", from: "NotReady",
		},
		{
			name: "sandbox.removed with an exited container left",
			setup: func(f *fixture) {
				f.containerIn("sb", "c", ContainerExited)
				f.must("sb", "", &events.SandboxStopped{})
			},
			try:    step{"sb", "", &events.SandboxRemoved{}},
			object: "sandbox", id: "sb", from: "NotReady",
		},
		{
			name: "image.tagged with a name held by another image",
			setup: func(f *fixture) {
				f.must("", "", imagePulled(imageID(1)))
				f.must("", "", imagePulled(imageID(2)))
				f.must("", "", &events.ImageTagged{ImageId: imageID(1), Name: "docker.io/library/a:1"})
			},
			try:    step{"", "", &events.ImageTagged{ImageId: imageID(2), Name: "docker.io/library/a:1"}},
			object: "image", id: imageID(2), from: "Present",
		},
		{
			name: "image.tagged with a name it already holds",
			setup: func(f *fixture) {
				f.must("", "", imagePulled(imageID(1)))
				f.must("", "", &events.ImageTagged{ImageId: imageID(1), Name: "docker.io/library/a:1"})
			},
			try:    step{"", "", &events.ImageTagged{ImageId: imageID(1), Name: "docker.io/library/a:1"}},
			object: "image", id: imageID(1), from: "Present",
		},
		{
			name: "image.untagged of a name on another image",
			setup: func(f *fixture) {
				f.must("", "", imagePulled(imageID(1)))
				f.must("", "", imagePulled(imageID(2)))
				f.must("", "", &events.ImageTagged{ImageId: imageID(1), Name: "docker.io/library/a:1"})
			},
			try:    step{"", "", &events.ImageUntagged{ImageId: imageID(2), Name: "docker.io/library/a:1"}},
			object: "image", id: imageID(2), from: "Present",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			assertRefused(t, f, tc.try.sid, tc.try.cid, tc.try.m, tc.object, tc.id, tc.from, !tc.noRow)
		})
	}
}

func TestMalformedEvents(t *testing.T) {
	f := newFixture(t)
	f.containerIn("sb", "c", ContainerRunning)
	seq := f.s.Seq()
	for _, tc := range []struct {
		name string
		e    Event
	}{
		{"nil payload", Event{Seq: seq + 1, Type: events.ContainerExitedType, ContainerID: "c"}},
		{"payload of another type", Event{Seq: seq + 1, Type: events.ContainerExitedType, ContainerID: "c", Payload: &events.ContainerStarted{}}},
		{"foreign payload", Event{Seq: seq + 1, Type: events.ContainerExitedType, ContainerID: "c", Payload: &runtimeapi.Container{}}},
		{"unknown type", Event{Seq: seq + 1, Type: "container.teleported", ContainerID: "c", Payload: &events.ContainerExited{}}},
		{"container event without container id", Event{Seq: seq + 1, Type: events.ContainerExitedType, Payload: &events.ContainerExited{}}},
		{"container.creating without sandbox id", Event{Seq: seq + 1, Type: events.ContainerCreatingType, ContainerID: "c2", Payload: containerCreating("c2")}},
		{"container.creating without metadata", Event{Seq: seq + 1, Type: events.ContainerCreatingType, SandboxID: "sb", ContainerID: "c2", Payload: &events.ContainerCreating{Config: &runtimeapi.ContainerConfig{}}}},
		{"sandbox event without sandbox id", Event{Seq: seq + 1, Type: events.SandboxStoppedType, Payload: &events.SandboxStopped{}}},
		{"sandbox event naming a container", Event{Seq: seq + 1, Type: events.SandboxStoppedType, SandboxID: "sb", ContainerID: "c", Payload: &events.SandboxStopped{}}},
		{"sandbox.creating without config", Event{Seq: seq + 1, Type: events.SandboxCreatingType, SandboxID: "sb9", Payload: &events.SandboxCreating{}}},
		{"image event naming a sandbox", Event{Seq: seq + 1, Type: events.ImagePulledType, SandboxID: "sb", Payload: imagePulled(imageID(1))}},
		{"image.pulled without id", Event{Seq: seq + 1, Type: events.ImagePulledType, Payload: &events.ImagePulled{}}},
		{"image.tagged without name", Event{Seq: seq + 1, Type: events.ImageTaggedType, Payload: &events.ImageTagged{ImageId: imageID(1)}}},
		{"image.untagged without id", Event{Seq: seq + 1, Type: events.ImageUntaggedType, Payload: &events.ImageUntagged{Name: "a:1"}}},
		{"image.removed without id", Event{Seq: seq + 1, Type: events.ImageRemovedType, Payload: &events.ImageRemoved{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.s.Clone()
			if err := f.s.Apply(tc.e); !errors.Is(err, ErrBadEvent) {
				t.Fatalf("Apply = %v, want ErrBadEvent", err)
			}
			if d := stateDiff(before, f.s); d != "" {
				t.Fatalf("a malformed event changed the state:\n%s", d)
			}
		})
	}

	t.Run("out of order", func(t *testing.T) {
		for _, s := range []uint64{0, seq - 1, seq} {
			err := f.s.Apply(Event{Seq: s, Type: events.ContainerExitedType, ContainerID: "c", Payload: &events.ContainerExited{}})
			if !errors.Is(err, ErrOutOfOrder) {
				t.Fatalf("seq %d at %d: %v, want ErrOutOfOrder", s, seq, err)
			}
		}
		// A gap is not an error: a state folds whatever it is given in order.
		if err := f.s.Apply(Event{Seq: seq + 5, Type: events.ContainerExitedType, ContainerID: "c", Payload: &events.ContainerExited{}}); err != nil {
			t.Fatal(err)
		}
		if f.s.Seq() != seq+5 {
			t.Fatalf("Seq = %d, want %d", f.s.Seq(), seq+5)
		}
	})
}

func TestDecode(t *testing.T) {
	f := newFixture(t)
	r := f.record("sb", "c", &events.ContainerExited{ExitCode: 3, Reason: "Error"})
	e, err := Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != r.Seq || e.Time != r.Time || e.Type != events.ContainerExitedType || e.SandboxID != "sb" || e.ContainerID != "c" {
		t.Fatalf("envelope: %+v from %+v", e, r)
	}
	if p, ok := e.Payload.(*events.ContainerExited); !ok || p.GetExitCode() != 3 || p.GetReason() != "Error" {
		t.Fatalf("payload %v", e.Payload)
	}

	r.Type = "container.teleported"
	if _, err := Decode(r); !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
	r.Type, r.Payload = string(events.ContainerExitedType), []byte{0xff, 0xff}
	if _, err := Decode(r); !errors.Is(err, events.ErrBadPayload) {
		t.Fatalf("garbage: %v", err)
	}
	r.Payload, r.ContainerID = nil, ""
	if _, err := Decode(r); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("no container id: %v", err)
	}
}

// What each transition writes into the view, field by field.
func TestSandboxFold(t *testing.T) {
	f := newFixture(t)
	cr := sandboxCreating("sb")
	cr.RuntimeHandler = "runc"
	cr.Config.Linux = &runtimeapi.LinuxPodSandboxConfig{
		Overhead:  &runtimeapi.LinuxContainerResources{CpuShares: 2},
		Resources: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20},
	}
	f.must("sb", "", cr)
	created := f.s.sandboxes["sb"]
	want := &Sandbox{
		ID: "sb", State: SandboxCreating, Config: cr.Config, RuntimeHandler: "runc", CreatedAt: cr.CreatedAt,
		NetNSPath: cr.NetnsPath, CgroupParent: cr.CgroupParent,
		Overhead: cr.Config.Linux.Overhead, Resources: cr.Config.Linux.Resources,
		FirstSeq: 1, LastSeq: 1,
	}
	if d := protoDiff(want, created); d != "" {
		t.Fatalf("after creating (-want +got):\n%s", d)
	}
	if _, ok := f.s.Sandbox("sb"); ok {
		t.Fatal("a Creating sandbox is visible")
	}

	ready := sandboxReady("sb")
	f.must("sb", "", ready)
	want.State, want.Pid, want.Network, want.LastSeq = SandboxReady, 4242, ready.Network, 2
	got, ok := f.s.Sandbox("sb")
	if !ok {
		t.Fatal("ready sandbox not visible")
	}
	if d := protoDiff(want, got); d != "" {
		t.Fatalf("after ready (-want +got):\n%s", d)
	}
	if created.State != SandboxCreating || created.Pid != 0 {
		t.Fatal("ready mutated the published Creating object")
	}

	upd := &events.SandboxResourcesUpdated{Resources: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 128 << 20}}
	f.must("sb", "", upd)
	want.Overhead, want.Resources, want.LastSeq = nil, upd.Resources, 3
	if d := protoDiff(want, f.s.sandboxes["sb"]); d != "" {
		t.Fatalf("after resources_updated (-want +got):\n%s", d)
	}

	f.must("sb", "", &events.SandboxStopped{StoppedAt: 123})
	want.State, want.Pid, want.StoppedAt, want.LastSeq = SandboxNotReady, 0, 123, 4
	if d := protoDiff(want, f.s.sandboxes["sb"]); d != "" {
		t.Fatalf("after stopped (-want +got):\n%s", d)
	}

	f.must("sb", "", &events.SandboxNetworkTornDown{})
	want.NetworkTornDown, want.LastSeq = true, 5
	if d := protoDiff(want, f.s.sandboxes["sb"]); d != "" {
		t.Fatalf("after torn down (-want +got):\n%s", d)
	}

	f.must("sb", "", &events.SandboxRemoved{})
	if _, ok := f.s.sandboxes["sb"]; ok || !f.s.IDUsed("sb") {
		t.Fatal("removed sandbox still present, or its ID free again")
	}
	if _, ok := f.s.SandboxByMetadata(cr.Config.Metadata); ok {
		t.Fatal("removed sandbox still holds its name")
	}
	// The name is free again: a new attempt with the same metadata works.
	if err := f.apply("sb-again", "", sandboxCreating("sb")); err != nil {
		t.Fatalf("name not released: %v", err)
	}
}

func TestSandboxTimesDefaultToRecordTime(t *testing.T) {
	f := newFixture(t)
	cr := sandboxCreating("sb")
	cr.CreatedAt = 0
	f.must("sb", "", cr)
	f.must("sb", "", &events.SandboxReady{})
	f.must("sb", "", &events.SandboxStopped{})
	sb := f.s.sandboxes["sb"]
	if sb.CreatedAt != timeOf(1) || sb.StoppedAt != timeOf(3) {
		t.Fatalf("CreatedAt %d StoppedAt %d, want record times %d %d", sb.CreatedAt, sb.StoppedAt, timeOf(1), timeOf(3))
	}
}

func TestContainerFold(t *testing.T) {
	f := newFixture(t)
	f.sandboxIn("sb", SandboxReady)
	cr := containerCreating("c")
	cr.StopSignal = runtimeapi.Signal_SIGNAL_SIGUSR1
	f.must("sb", "c", cr)
	want := &Container{
		ID: "c", SandboxID: "sb", State: ContainerCreating, Config: cr.Config, ImageID: cr.ImageId,
		Image: cr.Image, ImageRef: cr.ImageRef, LogPath: cr.LogPath, Mounts: cr.Mounts, User: cr.User,
		StopSignal: runtimeapi.Signal_SIGNAL_SIGUSR1,
		Resources:  &runtimeapi.ContainerResources{Linux: cr.Config.Linux.Resources},
		CreatedAt:  cr.CreatedAt, FirstSeq: 3, LastSeq: 3,
	}
	if d := protoDiff(want, f.s.containers["c"]); d != "" {
		t.Fatalf("after creating (-want +got):\n%s", d)
	}
	if _, ok := f.s.Container("c"); ok || len(f.s.ContainersOf("sb")) != 0 {
		t.Fatal("a Creating container is visible")
	}
	if _, cs := f.s.Creating(); len(cs) != 1 || cs[0].ID != "c" {
		t.Fatalf("Creating() = %v", cs)
	}

	f.must("", "c", &events.ContainerCreated{Pid: 77})
	want.State, want.Pid, want.LastSeq = ContainerCreated, 77, 4
	if d := protoDiff(want, f.s.containers["c"]); d != "" {
		t.Fatalf("after created (-want +got):\n%s", d)
	}
	if got := f.s.ContainersOf("sb"); len(got) != 1 || got[0] != f.s.containers["c"] {
		t.Fatalf("ContainersOf = %v", got)
	}

	upd := &events.ContainerResourcesUpdated{Resources: &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{CpuQuota: 5000}}}
	f.must("sb", "c", upd)
	want.Resources, want.LastSeq = upd.Resources, 5

	f.must("", "c", &events.ContainerStarted{Pid: 78, StartedAt: 1000})
	want.State, want.Pid, want.StartedAt, want.LastSeq = ContainerRunning, 78, 1000, 6
	if d := protoDiff(want, f.s.containers["c"]); d != "" {
		t.Fatalf("after started (-want +got):\n%s", d)
	}

	f.must("", "c", &events.ContainerExited{ExitCode: 137, FinishedAt: 2000, Reason: "OOMKilled", Message: "memory"})
	want.State, want.Pid, want.ExitCode, want.FinishedAt, want.Reason, want.Message, want.LastSeq = ContainerExited, 0, 137, 2000, "OOMKilled", "memory", 7
	if d := protoDiff(want, f.s.containers["c"]); d != "" {
		t.Fatalf("after exited (-want +got):\n%s", d)
	}

	f.must("", "c", &events.ContainerRemoved{})
	if _, ok := f.s.containers["c"]; ok || len(f.s.podContainers["sb"]) != 0 || !f.s.IDUsed("c") {
		t.Fatal("removed container still indexed, or its ID free again")
	}
	if _, ok := f.s.ContainerByMetadata("sb", cr.Config.Metadata); ok {
		t.Fatal("removed container still holds its name")
	}
}

func TestContainerFallbacks(t *testing.T) {
	f := newFixture(t)
	f.sandboxIn("sb", SandboxReady)
	cr := containerCreating("c")
	cr.Image, cr.CreatedAt = nil, 0
	cr.Config.StopSignal = runtimeapi.Signal_SIGNAL_SIGINT
	cr.Config.Linux = nil
	f.must("sb", "c", cr)
	f.must("", "c", &events.ContainerCreated{})
	f.must("", "c", &events.ContainerStarted{})
	f.must("", "c", &events.ContainerExited{})
	c := f.s.containers["c"]
	if !proto.Equal(c.Image, cr.Config.Image) {
		t.Errorf("Image %v, want the config's %v", c.Image, cr.Config.Image)
	}
	if c.StopSignal != runtimeapi.Signal_SIGNAL_SIGINT {
		t.Errorf("StopSignal %v, want the config's", c.StopSignal)
	}
	if c.Resources != nil {
		t.Errorf("Resources %v, want none", c.Resources)
	}
	if c.CreatedAt != timeOf(3) || c.StartedAt != timeOf(5) || c.FinishedAt != timeOf(6) {
		t.Errorf("times %d %d %d, want the record times", c.CreatedAt, c.StartedAt, c.FinishedAt)
	}
}

func TestContainerRollbackAndStartFailure(t *testing.T) {
	f := newFixture(t)
	f.containerIn("sb", "c1", ContainerCreating)
	f.must("", "c1", &events.ContainerRemoved{Reason: "rolled back"})
	if f.s.IDUsed("c1") != true || len(f.s.podContainers["sb"]) != 0 {
		t.Fatal("rollback left the container indexed")
	}
	f.containerIn("sb", "c2", ContainerCreated)
	f.must("", "c2", &events.ContainerExited{ExitCode: 128, Reason: "StartError", Message: "exec: not found"})
	c, _ := f.s.Container("c2")
	if c.State != ContainerExited || c.StartedAt != 0 || c.FinishedAt == 0 {
		t.Fatalf("start failure: %+v", c)
	}
	// Both gone: the sandbox may stop and be removed.
	f.must("", "c2", &events.ContainerRemoved{})
	f.must("sb", "", &events.SandboxStopped{})
	f.must("sb", "", &events.SandboxRemoved{})
}

func TestImageFold(t *testing.T) {
	f := newFixture(t)
	id := imageID(1)
	p := imagePulled(id)
	f.must("", "", p)
	uid := int64(1002)
	want := &Image{
		ID: id, ManifestDigest: p.ManifestDigest, Size: p.Size, Config: p.Config, ChainIDs: p.ChainIds,
		Annotations: p.Annotations, UID: &uid, FirstSeq: 1, LastSeq: 1,
	}
	if d := protoDiff(want, f.s.images[id]); d != "" {
		t.Fatalf("after pull (-want +got):\n%s", d)
	}
	f.must("", "", &events.ImageTagged{ImageId: id, Name: "docker.io/library/b:1"})
	f.must("", "", &events.ImageTagged{ImageId: id, Name: "docker.io/library/a:1"})
	f.must("", "", &events.ImageTagged{ImageId: id, Name: "docker.io/library/a@sha256:" + strings.Repeat("ef", 32)})
	want.Names = []string{"docker.io/library/a:1", "docker.io/library/a@sha256:" + strings.Repeat("ef", 32), "docker.io/library/b:1"}
	want.LastSeq = 4
	if d := protoDiff(want, f.s.images[id]); d != "" {
		t.Fatalf("after tags (-want +got):\n%s", d)
	}

	// A refresh replaces the content fields and keeps names and FirstSeq.
	p2 := imagePulled(id)
	p2.Size, p2.Config, p2.ManifestDigest = 99, []byte(`{"config":{"User":"www-data:1004"}}`), "sha256:"+strings.Repeat("77", 32)
	f.must("", "", p2)
	want.Size, want.Config, want.ManifestDigest, want.UID, want.Username, want.LastSeq = 99, p2.Config, p2.ManifestDigest, nil, "www-data", 5
	if d := protoDiff(want, f.s.images[id]); d != "" {
		t.Fatalf("after refresh (-want +got):\n%s", d)
	}

	// Moving a name: untag from one image, tag on another.
	id2 := imageID(2)
	f.must("", "", imagePulled(id2))
	f.must("", "", &events.ImageUntagged{ImageId: id, Name: "docker.io/library/b:1"})
	f.must("", "", &events.ImageTagged{ImageId: id2, Name: "docker.io/library/b:1"})
	if img, _ := f.s.Image("docker.io/library/b:1"); img.ID != id2 {
		t.Fatalf("b:1 resolves to %v", img)
	}
	if slices.Contains(f.s.images[id].Names, "docker.io/library/b:1") {
		t.Fatal("untag left the name on the old image")
	}

	// Removal drops the names; a name is then free for a new pull.
	f.must("", "", &events.ImageRemoved{ImageId: id})
	if _, ok := f.s.Image("docker.io/library/a:1"); ok {
		t.Fatal("a removed image's name still resolves")
	}
	f.must("", "", imagePulled(id))
	f.must("", "", &events.ImageTagged{ImageId: id, Name: "docker.io/library/a:1"})
	if img := f.s.images[id]; img.FirstSeq != f.s.Seq()-1 || len(img.Names) != 1 {
		t.Fatalf("re-pulled image %+v", img)
	}
}

func TestParseImageUser(t *testing.T) {
	for _, tc := range []struct {
		config   string
		uid      int64 // -1: none
		username string
	}{
		{`{"config":{"User":"1002"}}`, 1002, ""},
		{`{"config":{"User":"www-data"}}`, -1, "www-data"},
		{`{"config":{"User":"1003:1004"}}`, 1003, ""},
		{`{"config":{"User":"www-data:1004"}}`, -1, "www-data"},
		{`{"config":{"User":"0"}}`, 0, ""},
		{`{"config":{"User":""}}`, -1, ""},
		{`{"config":{}}`, -1, ""},
		{`{"config":{"User":":1004"}}`, -1, ""},
		{`{"config":{"User":"-5"}}`, -1, "-5"},
		{`not json`, -1, ""},
		{``, -1, ""},
	} {
		uid, username := parseImageUser([]byte(tc.config))
		gotUID := int64(-1)
		if uid != nil {
			gotUID = *uid
		}
		if gotUID != tc.uid || username != tc.username {
			t.Errorf("%s: uid %d username %q, want %d %q", tc.config, gotUID, username, tc.uid, tc.username)
		}
	}
}

func TestImageLookup(t *testing.T) {
	f := newFixture(t)
	a := "sha256:" + strings.Repeat("a", 60) + "0001"
	b := "sha256:" + strings.Repeat("a", 60) + "0002"
	c := "sha256:" + strings.Repeat("c", 64)
	for _, id := range []string{a, b, c} {
		f.must("", "", imagePulled(id))
	}
	digestRef := "docker.io/library/busybox@sha256:" + strings.Repeat("ef", 32)
	f.must("", "", &events.ImageTagged{ImageId: a, Name: "docker.io/library/busybox:latest"})
	f.must("", "", &events.ImageTagged{ImageId: a, Name: digestRef})
	f.must("", "", &events.ImageTagged{ImageId: b, Name: "gcr.io/k8s-staging-cri-tools/test-image-tag:test"})
	f.must("", "", &events.ImageTagged{ImageId: c, Name: "registry.k8s.io/pause:3.9"})
	f.must("", "", &events.ImageTagged{ImageId: c, Name: "k8s.gcr.io/pause:3.9"})

	for _, tc := range []struct{ ref, want string }{
		{a, a},
		{strings.TrimPrefix(a, "sha256:"), a},
		{"docker.io/library/busybox:latest", a},
		{"busybox", a},
		{"busybox:latest", a},
		{"library/busybox", a},
		{digestRef, a},
		{"busybox@sha256:" + strings.Repeat("ef", 32), a},
		{"busybox:latest@sha256:" + strings.Repeat("ef", 32), a},
		{"gcr.io/k8s-staging-cri-tools/test-image-tag:test", b},
		{"registry.k8s.io/pause:3.9", c},
		{"k8s.gcr.io/pause:3.9", c},
		{"ccc", c},
		{"sha256:ccc", c},
		{strings.Repeat("a", 60) + "0002", b},
		{strings.Repeat("a", 12), ""}, // ambiguous prefix
		{strings.Repeat("0", 64), ""},
		{"busybox:1.0", ""},
		{"gcr.io/k8s-staging-cri-tools/test-image-tag", ""}, // :latest is not :test
		{"", ""},
		{"NOT A REFERENCE", ""},
	} {
		img, ok := f.s.Image(tc.ref)
		got := ""
		if ok {
			got = img.ID
		}
		if got != tc.want {
			t.Errorf("Image(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}
