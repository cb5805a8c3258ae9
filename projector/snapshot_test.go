package projector

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector/internal/snapshotpb"
)

func TestSnapshotRoundTripEmpty(t *testing.T) {
	back, err := UnmarshalState(mustMarshal(t, NewState()))
	if err != nil {
		t.Fatal(err)
	}
	if d := stateDiff(back, NewState()); d != "" {
		t.Fatal(d)
	}
}

// goldenState is a small state with one object in every state, built by
// events, that testdata/snapshot-v1.bin was made from.
func goldenState(t testing.TB) *State {
	return goldenFixture(t).s
}

func goldenFixture(t testing.TB) *fixture {
	f := filterFixture(t)
	f.sandboxIn("gone", SandboxRemoved)
	f.must("bcd3", "", &events.SandboxNetworkTornDown{})
	f.must("", "", imagePulled(imageID(5)))
	f.must("", "", &events.ImageTagged{ImageId: imageID(5), Name: "docker.io/library/busybox:latest"})
	f.must("", "", &events.ImageTagged{ImageId: imageID(5), Name: "docker.io/library/busybox@" + imageID(6)})
	return f
}

// goldenPositionsState is goldenState, then more removals and a retention
// pass that forgot some tombstones: what testdata/snapshot-v1-positions.bin
// was made from (removal positions and the horizon in the snapshot).
func goldenPositionsState(t testing.TB) *State {
	f := goldenFixture(t)
	gone := f.seq // the "gone" sandbox was removed before this
	f.containerIn("aaa1", "c-later", ContainerRemoved)
	f.sandboxIn("gone-later", SandboxRemoved)
	if n := f.s.ForgetRemovedBefore(gone); n != 1 {
		t.Fatalf("forgot %d tombstones, want 1 (gone)", n)
	}
	return f.s
}

// removedAt is s with every tombstone removed at seq: how a snapshot
// written before removal positions were kept reads.
func removedAt(s *State, seq uint64) *State {
	c := s.Clone()
	var ids idSet
	c.removed.each(func(id string, _ uint64) { ids.add(id, seq) })
	c.removed = ids
	return c
}

// Snapshots written by this format version must load, with the same
// meaning, in every later build: the golden files are the compatibility
// contract. snapshot-v1.bin was written before removal positions were
// kept, and is never regenerated: its tombstones read as removed at its
// own position. snapshot-v1-positions.bin has them; regenerate it (only
// when adding a version) with LOGBOOK_UPDATE_GOLDEN=1.
func TestSnapshotGoldenV1(t *testing.T) {
	for _, tc := range []struct {
		file   string
		want   *State
		update bool
	}{
		{"snapshot-v1.bin", removedAt(goldenState(t), goldenState(t).Seq()), false},
		{"snapshot-v1-positions.bin", goldenPositionsState(t), true},
	} {
		path := filepath.Join("testdata", tc.file)
		if tc.update && os.Getenv("LOGBOOK_UPDATE_GOLDEN") != "" {
			if err := os.WriteFile(path, mustMarshal(t, tc.want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalState(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if d := stateDiff(got, tc.want); d != "" {
			t.Fatalf("%s decodes differently (-golden +built):\n%s", tc.file, d)
		}
		if tc.want.removed.len() == 0 {
			t.Fatalf("%s: a golden state without tombstones", tc.file)
		}
	}
}

// wrap puts a body in a valid envelope of the given version.
func wrap(version byte, body []byte) []byte {
	b := append([]byte(snapshotMagic), version, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(snapshotMagic)+1:], crc32.Checksum(body, castagnoli))
	return append(b, body...)
}

func TestUnmarshalStateRefusesDamage(t *testing.T) {
	good := mustMarshal(t, goldenState(t))
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-3] ^= 0x40
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrBadSnapshot},
		{"short", good[:5], ErrBadSnapshot},
		{"foreign", append([]byte("{\"json\":1}"), good...), ErrBadSnapshot},
		{"newer version", append(append([]byte(snapshotMagic), 2), good[len(snapshotMagic)+1:]...), ErrSnapshotVersion},
		{"flipped bit", flipped, ErrBadSnapshot},
		{"truncated", good[:len(good)-10], ErrBadSnapshot},
		{"garbage body", wrap(snapshotVersion, []byte{0xff, 0xff, 0xff}), ErrBadSnapshot},
	} {
		if _, err := UnmarshalState(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestUnmarshalStateRefusesInconsistency(t *testing.T) {
	meta := func(n string) *runtimeapi.PodSandboxConfig {
		return &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: n}}
	}
	cmeta := func(n string) *runtimeapi.ContainerConfig {
		return &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: n}}
	}
	sb := func(id, name string) *snapshotpb.Sandbox {
		return &snapshotpb.Sandbox{Id: id, State: uint32(SandboxReady), Config: meta(name), FirstSeq: 1, LastSeq: 1}
	}
	ctr := func(id, sid, name string) *snapshotpb.Container {
		return &snapshotpb.Container{Id: id, SandboxId: sid, State: uint32(ContainerRunning), Config: cmeta(name), FirstSeq: 2, LastSeq: 2}
	}
	img := func(id string, names ...string) *snapshotpb.Image {
		return &snapshotpb.Image{Id: id, Names: names, FirstSeq: 3, LastSeq: 3}
	}
	valid := func() *snapshotpb.State {
		return &snapshotpb.State{
			Seq:        9,
			Sandboxes:  []*snapshotpb.Sandbox{sb("s1", "a")},
			Containers: []*snapshotpb.Container{ctr("c1", "s1", "x")},
			Images:     []*snapshotpb.Image{img(imageID(1), "a:1", "b:1")},
			RemovedIds: []string{"old"},
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(s *snapshotpb.State)
	}{
		{"valid", nil},
		{"valid with positions", func(s *snapshotpb.State) { s.RemovedSeqs = []uint64{9} }},
		{"valid with a horizon", func(s *snapshotpb.State) { s.RemovedSeqs, s.ForgetRemovedBefore = []uint64{5}, 5 }},
		// A horizon the state has not reached yet forgets nothing yet.
		{"valid with a pending horizon", func(s *snapshotpb.State) { s.RemovedSeqs, s.ForgetRemovedBefore = []uint64{5}, 11 }},
		{"sandbox without id", func(s *snapshotpb.State) { s.Sandboxes[0].Id = "" }},
		{"sandbox twice", func(s *snapshotpb.State) { s.Sandboxes = append(s.Sandboxes, sb("s1", "b")) }},
		{"sandbox removed state", func(s *snapshotpb.State) { s.Sandboxes[0].State = uint32(SandboxRemoved) }},
		{"sandbox absent state", func(s *snapshotpb.State) { s.Sandboxes[0].State = uint32(SandboxAbsent) }},
		{"sandbox without metadata", func(s *snapshotpb.State) { s.Sandboxes[0].Config = nil }},
		{"sandbox names clash", func(s *snapshotpb.State) { s.Sandboxes = append(s.Sandboxes, sb("s2", "a")) }},
		{"sandbox from the future", func(s *snapshotpb.State) { s.Sandboxes[0].LastSeq = 10 }},
		{"sandbox without position", func(s *snapshotpb.State) { s.Sandboxes[0].FirstSeq = 0 }},
		{"container of unknown sandbox", func(s *snapshotpb.State) { s.Containers[0].SandboxId = "s9" }},
		{"container with a sandbox's id", func(s *snapshotpb.State) { s.Containers[0].Id = "s1" }},
		{"container twice", func(s *snapshotpb.State) { s.Containers = append(s.Containers, ctr("c1", "s1", "y")) }},
		{"container names clash", func(s *snapshotpb.State) { s.Containers = append(s.Containers, ctr("c2", "s1", "x")) }},
		{"container state out of range", func(s *snapshotpb.State) { s.Containers[0].State = 99 }},
		{"container removed state", func(s *snapshotpb.State) { s.Containers[0].State = uint32(ContainerRemoved) }},
		{"container without metadata", func(s *snapshotpb.State) { s.Containers[0].Config = nil }},
		{"image without id", func(s *snapshotpb.State) { s.Images[0].Id = "" }},
		{"image twice", func(s *snapshotpb.State) { s.Images = append(s.Images, img(imageID(1))) }},
		{"image names unsorted", func(s *snapshotpb.State) { s.Images[0].Names = []string{"b:1", "a:1"} }},
		{"image name shared", func(s *snapshotpb.State) { s.Images = append(s.Images, img(imageID(2), "a:1")) }},
		{"image empty name", func(s *snapshotpb.State) { s.Images[0].Names = []string{""} }},
		{"removed id live", func(s *snapshotpb.State) { s.RemovedIds = append(s.RemovedIds, "c1") }},
		{"removed id twice", func(s *snapshotpb.State) { s.RemovedIds = append(s.RemovedIds, "old") }},
		{"removal positions short", func(s *snapshotpb.State) { s.RemovedIds, s.RemovedSeqs = []string{"old", "older"}, []uint64{4} }},
		{"removal positions long", func(s *snapshotpb.State) { s.RemovedSeqs = []uint64{4, 5} }},
		{"removal position 0", func(s *snapshotpb.State) { s.RemovedSeqs = []uint64{0} }},
		{"removal from the future", func(s *snapshotpb.State) { s.RemovedSeqs = []uint64{10} }},
		{"removal before the horizon", func(s *snapshotpb.State) { s.RemovedSeqs, s.ForgetRemovedBefore = []uint64{4}, 5 }},
	} {
		pb := valid()
		if tc.mutate != nil {
			tc.mutate(pb)
		}
		body, err := proto.Marshal(pb)
		if err != nil {
			t.Fatal(err)
		}
		_, err = UnmarshalState(wrap(snapshotVersion, body))
		if strings.HasPrefix(tc.name, "valid") {
			if err != nil {
				t.Fatalf("%s: snapshot refused: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: %v, want ErrBadSnapshot", tc.name, err)
		}
	}
}
