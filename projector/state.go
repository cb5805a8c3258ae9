package projector

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/distribution/reference"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// State is the fold of a journal prefix: every sandbox, container and image
// as of journal position Seq. It does no I/O and is not safe for concurrent
// use; Store wraps one for the daemon. The objects it hands out are
// immutable (see views.go), so a reader may keep them after the State moves
// on.
type State struct {
	seq uint64

	// Live objects, Creating ones included. Removed sandboxes and
	// containers are deleted here and remembered in removed.
	sandboxes  map[string]*Sandbox
	containers map[string]*Container
	images     map[string]*Image

	// Indexes. Each value slice is immutable: changing one means storing
	// a new slice, so that Clone can share them.
	podContainers  map[string][]string // sandbox ID -> container IDs, creation order
	sandboxNames   map[string]string   // sandboxKey(metadata) -> sandbox ID
	containerNames map[string]string   // containerKey(sandbox, metadata) -> container ID
	imageNames     map[string]string   // "repo:tag" or "repo@digest" -> image ID

	// Tombstones: removed sandbox and container IDs, with the position
	// of the record that removed each. forgetBefore is the horizon:
	// tombstones removed before it are forgotten as soon as the state is
	// at forgetBefore-1 or later (see ForgetRemovedBefore); horizon, when
	// not nil, is the cell of the live Store this state follows (the
	// store's own state, its Snapshot clones, attached states): a higher
	// value there is adopted at the next fold.
	removed      idSet
	forgetBefore uint64
	horizon      *atomic.Uint64

	// What the last applied event removed, for CRIEvents of a removal
	// (the object is no longer in the maps). Cleared by the next event.
	lastRemovedSandbox   *Sandbox
	lastRemovedContainer *Container
}

// NewState returns the state of an empty journal (Seq 0).
func NewState() *State {
	return &State{
		sandboxes:      make(map[string]*Sandbox),
		containers:     make(map[string]*Container),
		images:         make(map[string]*Image),
		podContainers:  make(map[string][]string),
		sandboxNames:   make(map[string]string),
		containerNames: make(map[string]string),
		imageNames:     make(map[string]string),
	}
}

// Seq is the journal position of the last event folded into the state.
func (s *State) Seq() uint64 { return s.seq }

// Clone returns an independent state at the same position. It copies the
// maps and shares every object (they are immutable), so it costs one map
// entry copy per live object, not a deep copy; of the tombstones it copies
// at most a quarter (idSet). A clone follows the same Store as s, if any.
func (s *State) Clone() *State {
	return &State{
		seq:                  s.seq,
		sandboxes:            maps.Clone(s.sandboxes),
		containers:           maps.Clone(s.containers),
		images:               maps.Clone(s.images),
		podContainers:        maps.Clone(s.podContainers),
		sandboxNames:         maps.Clone(s.sandboxNames),
		containerNames:       maps.Clone(s.containerNames),
		imageNames:           maps.Clone(s.imageNames),
		removed:              s.removed.clone(),
		forgetBefore:         s.forgetBefore,
		horizon:              s.horizon,
		lastRemovedSandbox:   s.lastRemovedSandbox,
		lastRemovedContainer: s.lastRemovedContainer,
	}
}

// Sandbox returns the sandbox with exactly this ID, unless it is still
// Creating (internal) or removed.
func (s *State) Sandbox(id string) (*Sandbox, bool) {
	sb, ok := s.sandboxes[id]
	if !ok || sb.State == SandboxCreating {
		return nil, false
	}
	return sb, true
}

// Container returns the container with exactly this ID, unless it is still
// Creating (internal) or removed.
func (s *State) Container(id string) (*Container, bool) {
	c, ok := s.containers[id]
	if !ok || c.State == ContainerCreating {
		return nil, false
	}
	return c, true
}

// ContainersOf returns the visible containers of a sandbox in creation
// order.
func (s *State) ContainersOf(sandboxID string) []*Container {
	ids := s.podContainers[sandboxID]
	out := make([]*Container, 0, len(ids))
	for _, id := range ids {
		if c := s.containers[id]; c.State != ContainerCreating {
			out = append(out, c)
		}
	}
	return out
}

// Pod returns a visible sandbox and its visible containers: what
// PodSandboxStatus reports, from one position of the journal.
func (s *State) Pod(sandboxID string) (*Sandbox, []*Container, bool) {
	sb, ok := s.Sandbox(sandboxID)
	if !ok {
		return nil, nil, false
	}
	return sb, s.ContainersOf(sandboxID), true
}

// Creating returns the sandboxes and containers whose creation is in
// flight (or was interrupted by a crash), in creation order: recovery rolls
// them forward or back.
func (s *State) Creating() ([]*Sandbox, []*Container) {
	var sbs []*Sandbox
	for _, sb := range s.sandboxes {
		if sb.State == SandboxCreating {
			sbs = append(sbs, sb)
		}
	}
	var cs []*Container
	for _, c := range s.containers {
		if c.State == ContainerCreating {
			cs = append(cs, c)
		}
	}
	sortSandboxes(sbs)
	sortContainers(cs)
	return sbs, cs
}

// SandboxByMetadata returns the live sandbox (Creating included) that
// holds this metadata's name: the check RunPodSandbox makes before it
// journals a second sandbox of the same name and attempt.
func (s *State) SandboxByMetadata(m *runtimeapi.PodSandboxMetadata) (*Sandbox, bool) {
	id, ok := s.sandboxNames[sandboxKey(m)]
	if !ok {
		return nil, false
	}
	return s.sandboxes[id], true
}

// ContainerByMetadata returns the live container (Creating included) of a
// sandbox that holds this metadata's name and attempt.
func (s *State) ContainerByMetadata(sandboxID string, m *runtimeapi.ContainerMetadata) (*Container, bool) {
	id, ok := s.containerNames[containerKey(sandboxID, m)]
	if !ok {
		return nil, false
	}
	return s.containers[id], true
}

// IDUsed reports whether a sandbox or container had this ID: live, in any
// state, or removed by a record the journal still retains (a tombstone;
// see ForgetRemovedBefore). Such an ID cannot be created again.
func (s *State) IDUsed(id string) bool {
	_, sb := s.sandboxes[id]
	_, c := s.containers[id]
	return sb || c || s.removed.has(id)
}

// Image resolves an image reference, trying in order: the full ID; the ID
// without its "sha256:" prefix; a name exactly as stored ("repo:tag" or
// "repo@sha256:..."); the name in its normalized form ("busybox" is
// "docker.io/library/busybox:latest"); and a unique prefix of the hex part
// of an ID. An ambiguous prefix resolves to nothing.
func (s *State) Image(ref string) (*Image, bool) {
	if ref == "" {
		return nil, false
	}
	if img, ok := s.images[ref]; ok {
		return img, true
	}
	if img, ok := s.images[digestAlgo+ref]; ok {
		return img, true
	}
	if id, ok := s.imageNames[ref]; ok {
		return s.images[id], true
	}
	for _, name := range normalizedNames(ref) {
		if id, ok := s.imageNames[name]; ok {
			return s.images[id], true
		}
	}
	return s.imageByPrefix(ref)
}

const digestAlgo = "sha256:"

func (s *State) imageByPrefix(ref string) (*Image, bool) {
	hex := strings.TrimPrefix(ref, digestAlgo)
	if !isHex(hex) {
		return nil, false
	}
	var found *Image
	for id, img := range s.images {
		if strings.HasPrefix(strings.TrimPrefix(id, digestAlgo), hex) {
			if found != nil {
				return nil, false
			}
			found = img
		}
	}
	return found, found != nil
}

// normalizedNames returns the stored forms a user's reference may take:
// the normalized name with its tag (":latest" when it has neither tag nor
// digest) and, for a reference with both, the name with only its digest.
func normalizedNames(ref string) []string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil
	}
	out := []string{reference.TagNameOnly(named).String()}
	if c, ok := named.(reference.Canonical); ok {
		if d, err := reference.WithDigest(reference.TrimNamed(named), c.Digest()); err == nil {
			out = append(out, d.String())
		}
	}
	return out
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// sandboxKey is the name a sandbox reserves: its metadata's name,
// namespace, uid and attempt.
func sandboxKey(m *runtimeapi.PodSandboxMetadata) string {
	return m.GetName() + "\x00" + m.GetNamespace() + "\x00" + m.GetUid() + "\x00" + strconv.FormatUint(uint64(m.GetAttempt()), 10)
}

// containerKey is the name a container reserves within its sandbox.
func containerKey(sandboxID string, m *runtimeapi.ContainerMetadata) string {
	return sandboxID + "\x00" + m.GetName() + "\x00" + strconv.FormatUint(uint64(m.GetAttempt()), 10)
}

// sortSandboxes and sortContainers put objects in creation order (the
// journal position of the event that created each).
func sortSandboxes(xs []*Sandbox) {
	slices.SortFunc(xs, func(a, b *Sandbox) int { return cmp.Compare(a.FirstSeq, b.FirstSeq) })
}

func sortContainers(xs []*Container) {
	slices.SortFunc(xs, func(a, b *Container) int { return cmp.Compare(a.FirstSeq, b.FirstSeq) })
}
