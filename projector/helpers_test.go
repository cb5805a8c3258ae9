package projector

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

// baseTime is the record time of seq 0 in fixtures; records are 1 ms apart.
const baseTime = int64(1_700_000_000_000_000_000)

func timeOf(seq uint64) int64 { return baseTime + int64(seq)*1_000_000 }

// fixture plays the journal for a State: it numbers and timestamps records,
// encodes them as the runtime would, keeps the ones that folded, and folds
// them through Decode and Apply.
type fixture struct {
	t    testing.TB
	s    *State
	seq  uint64
	recs []journal.Record
}

func newFixture(t testing.TB) *fixture {
	return &fixture{t: t, s: NewState()}
}

// record encodes a payload as the next record, without folding it.
func (f *fixture) record(sandboxID, containerID string, m proto.Message) journal.Record {
	f.t.Helper()
	typ, b, err := events.Encode(m)
	if err != nil {
		f.t.Fatal(err)
	}
	return journal.Record{Seq: f.seq + 1, Time: timeOf(f.seq + 1), Type: string(typ), SandboxID: sandboxID, ContainerID: containerID, Payload: b}
}

// apply folds the payload as the next record; on success the record is kept
// and the sequence advances.
func (f *fixture) apply(sandboxID, containerID string, m proto.Message) error {
	f.t.Helper()
	r := f.record(sandboxID, containerID, m)
	e, err := Decode(r)
	if err != nil {
		return err
	}
	if err := f.s.Apply(e); err != nil {
		return err
	}
	f.seq++
	f.recs = append(f.recs, r)
	return nil
}

func (f *fixture) must(sandboxID, containerID string, m proto.Message) {
	f.t.Helper()
	if err := f.apply(sandboxID, containerID, m); err != nil {
		f.t.Fatalf("apply %T to %s/%s: %v", m, sandboxID, containerID, err)
	}
}

// lastEvent is the decoded form of the last folded record.
func (f *fixture) lastEvent() Event {
	f.t.Helper()
	e, err := Decode(f.recs[len(f.recs)-1])
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// sandboxIn brings a new sandbox id to state st by legal events.
func (f *fixture) sandboxIn(id string, st SandboxState) {
	f.t.Helper()
	if st == SandboxAbsent {
		return
	}
	f.must(id, "", sandboxCreating(id))
	if st == SandboxCreating {
		return
	}
	f.must(id, "", sandboxReady(id))
	if st == SandboxReady {
		return
	}
	f.must(id, "", &events.SandboxStopped{StoppedAt: 0})
	if st == SandboxNotReady {
		return
	}
	f.must(id, "", &events.SandboxRemoved{})
	if st != SandboxRemoved {
		f.t.Fatalf("sandboxIn: state %v", st)
	}
}

// containerIn brings a new container id, in a new Ready sandbox sid, to
// state st by legal events.
func (f *fixture) containerIn(sid, id string, st ContainerState) {
	f.t.Helper()
	if _, ok := f.s.sandboxes[sid]; !ok {
		f.sandboxIn(sid, SandboxReady)
	}
	if st == ContainerAbsent {
		return
	}
	f.must(sid, id, containerCreating(id))
	switch st {
	case ContainerCreating:
		return
	case ContainerRemoved:
		f.must("", id, &events.ContainerRemoved{})
		return
	}
	f.must("", id, &events.ContainerCreated{Pid: 100})
	if st == ContainerCreated {
		return
	}
	f.must("", id, &events.ContainerStarted{Pid: 101})
	if st == ContainerRunning {
		return
	}
	f.must("", id, &events.ContainerExited{ExitCode: 0})
	if st != ContainerExited {
		f.t.Fatalf("containerIn: state %v", st)
	}
}

func podConfig(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Uid: "uid-" + name, Namespace: "ns", Attempt: 1},
		Hostname:     name,
		LogDirectory: "/var/log/pods/ns_" + name,
		Labels:       map[string]string{"app": name, "tier": "web"},
		Annotations:  map[string]string{"note": "pod " + name},
	}
}

func sandboxCreating(id string) *events.SandboxCreating {
	return &events.SandboxCreating{
		Config:       podConfig("pod-" + id),
		CreatedAt:    baseTime - 5,
		NetnsPath:    "/run/netns/cni-" + id,
		CgroupParent: "/kubepods/pod" + id,
	}
}

func sandboxReady(id string) *events.SandboxReady {
	return &events.SandboxReady{
		Pid:     4242,
		Network: &events.SandboxNetwork{Ip: "10.88.0.7", AdditionalIps: []string{"fd00::7"}, CniResult: []byte(`{"cniVersion":"1.0.0"}`), NetworkName: "logbook"},
	}
}

func ctrConfig(name string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: name, Attempt: 2},
		Image:       &runtimeapi.ImageSpec{Image: "sha256:" + strings.Repeat("ab", 32)},
		Command:     []string{"top"},
		Labels:      map[string]string{"app": "web", "ctr": name},
		Annotations: map[string]string{"abc": "def"},
		LogPath:     name + ".log",
		Linux:       &runtimeapi.LinuxContainerConfig{Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512}},
	}
}

func containerCreating(id string) *events.ContainerCreating {
	return &events.ContainerCreating{
		Config:    ctrConfig("ctr-" + id),
		ImageId:   "sha256:" + strings.Repeat("ab", 32),
		Image:     &runtimeapi.ImageSpec{Image: "sha256:" + strings.Repeat("ab", 32), UserSpecifiedImage: "busybox:1.36"},
		ImageRef:  "docker.io/library/busybox@sha256:" + strings.Repeat("cd", 32),
		LogPath:   "/var/log/pods/x/ctr-" + id + ".log",
		CreatedAt: baseTime - 3,
		Mounts:    []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/srv/data", Readonly: true}},
		User:      &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: 1000, Gid: 1000}},
	}
}

func imageID(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func imagePulled(id string) *events.ImagePulled {
	return &events.ImagePulled{
		ImageId:        id,
		ManifestDigest: "sha256:" + strings.Repeat("ef", 32),
		Size:           1 << 20,
		Config:         []byte(`{"config":{"User":"1002"}}`),
		ChainIds:       []string{"sha256:" + strings.Repeat("01", 32)},
		Annotations:    map[string]string{"org.opencontainers.image.title": "t"},
	}
}

// dump is a State's logical content, for comparisons: the objects, the
// indexes and the tombstones, but not how they happen to be stored.
type dump struct {
	Seq            uint64
	Sandboxes      map[string]*Sandbox
	Containers     map[string]*Container
	Images         map[string]*Image
	PodContainers  map[string][]string
	SandboxNames   map[string]string
	ContainerNames map[string]string
	ImageNames     map[string]string
	Removed        map[string]uint64 // tombstone -> removal position
	ForgetBefore   uint64
}

func dumpOf(s *State) dump {
	d := dump{
		Seq: s.seq, Sandboxes: s.sandboxes, Containers: s.containers, Images: s.images,
		PodContainers: s.podContainers, SandboxNames: s.sandboxNames, ContainerNames: s.containerNames,
		ImageNames: s.imageNames, Removed: map[string]uint64{}, ForgetBefore: s.forgetBefore,
	}
	s.removed.each(func(id string, seq uint64) { d.Removed[id] = seq })
	return d
}

// stateDiff is empty when two states hold the same views, indexes and
// tombstones at the same position.
func stateDiff(a, b *State) string {
	return cmp.Diff(dumpOf(a), dumpOf(b), protocmp.Transform(), cmpopts.EquateEmpty())
}

// replay folds records into a fresh state the way the live store does:
// records that cannot be folded are stepped over.
func replay(recs []journal.Record) *State {
	s := NewState()
	for _, r := range recs {
		if err := s.fold(r); err != nil {
			s.skip(r.Seq)
		}
	}
	return s
}

func protoDiff(a, b any) string {
	return cmp.Diff(a, b, protocmp.Transform())
}
