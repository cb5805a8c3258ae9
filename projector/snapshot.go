package projector

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/logbook-cri/logbook/projector/internal/snapshotpb"
)

// Snapshot envelope: magic, version, CRC32C of the body, body (the
// protobuf snapshotpb.State). See doc.go.
const (
	snapshotMagic   = "LBPS"
	snapshotVersion = 1
	snapshotHeader  = len(snapshotMagic) + 1 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the state as a versioned snapshot. Equal states
// give equal bytes. What the last event removed (for CRIEvents) is not
// kept: a state loaded from a snapshot continues with the next event.
func (s *State) MarshalBinary() ([]byte, error) {
	pb := &snapshotpb.State{Seq: s.seq}

	sbs := make([]*Sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		sbs = append(sbs, sb)
	}
	sortSandboxes(sbs)
	for _, sb := range sbs {
		pb.Sandboxes = append(pb.Sandboxes, &snapshotpb.Sandbox{
			Id: sb.ID, State: uint32(sb.State), Config: sb.Config, RuntimeHandler: sb.RuntimeHandler,
			CreatedAt: sb.CreatedAt, NetnsPath: sb.NetNSPath, CgroupParent: sb.CgroupParent, Pid: sb.Pid,
			Network: sb.Network, NetworkTornDown: sb.NetworkTornDown, StoppedAt: sb.StoppedAt,
			Overhead: sb.Overhead, Resources: sb.Resources, FirstSeq: sb.FirstSeq, LastSeq: sb.LastSeq,
		})
	}

	cs := make([]*Container, 0, len(s.containers))
	for _, c := range s.containers {
		cs = append(cs, c)
	}
	sortContainers(cs)
	for _, c := range cs {
		pb.Containers = append(pb.Containers, &snapshotpb.Container{
			Id: c.ID, SandboxId: c.SandboxID, State: uint32(c.State), Config: c.Config, ImageId: c.ImageID,
			Image: c.Image, ImageRef: c.ImageRef, LogPath: c.LogPath, Mounts: c.Mounts, User: c.User,
			StopSignal: c.StopSignal, Resources: c.Resources, Pid: c.Pid, CreatedAt: c.CreatedAt,
			StartedAt: c.StartedAt, FinishedAt: c.FinishedAt, ExitCode: c.ExitCode, Reason: c.Reason,
			Message: c.Message, FirstSeq: c.FirstSeq, LastSeq: c.LastSeq,
		})
	}

	for _, img := range s.ListImages(nil) {
		pb.Images = append(pb.Images, &snapshotpb.Image{
			Id: img.ID, ManifestDigest: img.ManifestDigest, Size: img.Size, Config: img.Config,
			ChainIds: img.ChainIDs, Annotations: img.Annotations, Names: img.Names,
			FirstSeq: img.FirstSeq, LastSeq: img.LastSeq,
		})
	}

	type tombstone struct {
		id  string
		seq uint64
	}
	tombs := make([]tombstone, 0, s.removed.len())
	s.removed.each(func(id string, seq uint64) { tombs = append(tombs, tombstone{id, seq}) })
	slices.SortFunc(tombs, func(a, b tombstone) int { return strings.Compare(a.id, b.id) })
	pb.RemovedIds = make([]string, len(tombs))
	pb.RemovedSeqs = make([]uint64, len(tombs))
	for i, t := range tombs {
		pb.RemovedIds[i], pb.RemovedSeqs[i] = t.id, t.seq
	}
	pb.ForgetRemovedBefore = s.forgetBefore

	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("projector: marshal snapshot: %w", err)
	}
	out := make([]byte, snapshotHeader, snapshotHeader+len(body))
	copy(out, snapshotMagic)
	out[len(snapshotMagic)] = snapshotVersion
	binary.BigEndian.PutUint32(out[len(snapshotMagic)+1:], crc32.Checksum(body, castagnoli))
	return append(out, body...), nil
}

// UnmarshalState decodes a snapshot made by MarshalBinary and checks that
// it is a consistent state: the indexes are rebuilt from the objects, so a
// snapshot that breaks an invariant of the fold (a container of an unknown
// sandbox, a name held twice, a removed ID still live, ...) is refused
// with ErrBadSnapshot rather than loaded.
func UnmarshalState(b []byte) (*State, error) {
	if len(b) < snapshotHeader || !bytes.Equal(b[:len(snapshotMagic)], []byte(snapshotMagic)) {
		return nil, fmt.Errorf("%w: no snapshot header", ErrBadSnapshot)
	}
	if v := b[len(snapshotMagic)]; v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d (this build reads %d)", ErrSnapshotVersion, v, snapshotVersion)
	}
	body := b[snapshotHeader:]
	if want, got := binary.BigEndian.Uint32(b[len(snapshotMagic)+1:]), crc32.Checksum(body, castagnoli); want != got {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	var pb snapshotpb.State
	if err := proto.Unmarshal(body, &pb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	return stateFromSnapshot(&pb)
}

func stateFromSnapshot(pb *snapshotpb.State) (*State, error) {
	s := NewState()
	s.seq = pb.GetSeq()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	checkSeqs := func(what, id string, first, last uint64) error {
		if first == 0 || first > last || last > s.seq {
			return bad("%s %s: journal positions %d..%d outside 1..%d", what, id, first, last, s.seq)
		}
		return nil
	}

	for _, p := range pb.GetSandboxes() {
		st := SandboxState(p.GetState())
		switch {
		case p.GetId() == "":
			return nil, bad("sandbox without id")
		case s.sandboxes[p.GetId()] != nil:
			return nil, bad("sandbox %s twice", p.GetId())
		case st != SandboxCreating && st != SandboxReady && st != SandboxNotReady:
			return nil, bad("sandbox %s in state %s", p.GetId(), st)
		case p.GetConfig().GetMetadata() == nil:
			return nil, bad("sandbox %s without metadata", p.GetId())
		}
		if err := checkSeqs("sandbox", p.GetId(), p.GetFirstSeq(), p.GetLastSeq()); err != nil {
			return nil, err
		}
		key := sandboxKey(p.GetConfig().GetMetadata())
		if other, ok := s.sandboxNames[key]; ok {
			return nil, bad("sandboxes %s and %s hold the same name", other, p.GetId())
		}
		s.sandboxNames[key] = p.GetId()
		s.sandboxes[p.GetId()] = &Sandbox{
			ID: p.GetId(), State: st, Config: p.GetConfig(), RuntimeHandler: p.GetRuntimeHandler(),
			CreatedAt: p.GetCreatedAt(), NetNSPath: p.GetNetnsPath(), CgroupParent: p.GetCgroupParent(),
			Pid: p.GetPid(), Network: p.GetNetwork(), NetworkTornDown: p.GetNetworkTornDown(),
			StoppedAt: p.GetStoppedAt(), Overhead: p.GetOverhead(), Resources: p.GetResources(),
			FirstSeq: p.GetFirstSeq(), LastSeq: p.GetLastSeq(),
		}
	}

	ctrs := make([]*Container, 0, len(pb.GetContainers()))
	for _, p := range pb.GetContainers() {
		id, st := p.GetId(), ContainerState(p.GetState())
		switch {
		case id == "":
			return nil, bad("container without id")
		case s.containers[id] != nil || s.sandboxes[id] != nil:
			return nil, bad("id %s used twice", id)
		case st < ContainerCreating || st > ContainerExited:
			return nil, bad("container %s in state %s", id, st)
		case p.GetConfig().GetMetadata() == nil:
			return nil, bad("container %s without metadata", id)
		case s.sandboxes[p.GetSandboxId()] == nil:
			return nil, bad("container %s of unknown sandbox %q", id, p.GetSandboxId())
		}
		if err := checkSeqs("container", id, p.GetFirstSeq(), p.GetLastSeq()); err != nil {
			return nil, err
		}
		key := containerKey(p.GetSandboxId(), p.GetConfig().GetMetadata())
		if other, ok := s.containerNames[key]; ok {
			return nil, bad("containers %s and %s hold the same name", other, id)
		}
		s.containerNames[key] = id
		c := &Container{
			ID: id, SandboxID: p.GetSandboxId(), State: st, Config: p.GetConfig(), ImageID: p.GetImageId(),
			Image: p.GetImage(), ImageRef: p.GetImageRef(), LogPath: p.GetLogPath(), Mounts: p.GetMounts(),
			User: p.GetUser(), StopSignal: p.GetStopSignal(), Resources: p.GetResources(), Pid: p.GetPid(),
			CreatedAt: p.GetCreatedAt(), StartedAt: p.GetStartedAt(), FinishedAt: p.GetFinishedAt(),
			ExitCode: p.GetExitCode(), Reason: p.GetReason(), Message: p.GetMessage(),
			FirstSeq: p.GetFirstSeq(), LastSeq: p.GetLastSeq(),
		}
		s.containers[id] = c
		ctrs = append(ctrs, c)
	}
	sortContainers(ctrs)
	for _, c := range ctrs {
		s.podContainers[c.SandboxID] = append(s.podContainers[c.SandboxID], c.ID)
	}

	for _, p := range pb.GetImages() {
		id := p.GetId()
		if id == "" || s.images[id] != nil {
			return nil, bad("image id %q empty or twice", id)
		}
		if err := checkSeqs("image", id, p.GetFirstSeq(), p.GetLastSeq()); err != nil {
			return nil, err
		}
		if !slices.IsSorted(p.GetNames()) {
			return nil, bad("image %s: names not sorted", id)
		}
		for _, name := range p.GetNames() {
			if other, ok := s.imageNames[name]; ok || name == "" {
				return nil, bad("name %q held by %s and %s", name, other, id)
			}
			s.imageNames[name] = id
		}
		uid, username := parseImageUser(p.GetConfig())
		s.images[id] = &Image{
			ID: id, ManifestDigest: p.GetManifestDigest(), Size: p.GetSize(), Config: p.GetConfig(),
			ChainIDs: p.GetChainIds(), Annotations: p.GetAnnotations(), Names: p.GetNames(),
			UID: uid, Username: username, FirstSeq: p.GetFirstSeq(), LastSeq: p.GetLastSeq(),
		}
	}

	// Tombstones. A snapshot written before removal positions were kept
	// has none: its tombstones count as removed at its own position, so
	// the first compaction past it forgets them.
	s.forgetBefore = pb.GetForgetRemovedBefore()
	ids, seqs := pb.GetRemovedIds(), pb.GetRemovedSeqs()
	if len(seqs) != 0 && len(seqs) != len(ids) {
		return nil, bad("%d removed ids but %d removal positions", len(ids), len(seqs))
	}
	forgotten := s.forgetBefore != 0 && s.seq+1 >= s.forgetBefore
	for i, id := range ids {
		at := s.seq
		if len(seqs) != 0 {
			at = seqs[i]
		}
		switch {
		case id == "" || s.sandboxes[id] != nil || s.containers[id] != nil || s.removed.has(id):
			return nil, bad("removed id %q is empty, live or listed twice", id)
		case at == 0 || at > s.seq:
			return nil, bad("removed id %s: removal position %d outside 1..%d", id, at, s.seq)
		case forgotten && at < s.forgetBefore:
			return nil, bad("removed id %s: removed at %d, before the horizon %d", id, at, s.forgetBefore)
		}
		s.removed.add(id, at)
	}
	return s, nil
}
