package projector

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
)

// Store is the live projection the daemon reads: one State, folded forward
// by the journal's commit hook and read concurrently by CRI handlers. It
// owns its State; readers get immutable objects, never the State itself,
// except as a Clone.
type Store struct {
	log *slog.Logger

	mu      sync.RWMutex
	state   *State // guarded by mu
	skipped uint64 // guarded by mu: records that could not be folded

	// horizon is the tombstone horizon (ForgetRemovedBefore), written
	// under mu and read, atomically, by the store's state and by every
	// state that follows the store (its Snapshot clones, attached
	// states) when they fold.
	horizon atomic.Uint64
}

// NewStore returns a store that continues from initial (the state Load
// rebuilt at startup; nil means an empty journal). The store owns initial
// from now on. A nil logger discards.
func NewStore(initial *State, log *slog.Logger) *Store {
	if initial == nil {
		initial = NewState()
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st := &Store{log: log, state: initial}
	st.horizon.Store(initial.forgetBefore)
	initial.horizon = &st.horizon
	return st
}

// ApplyRecords is the journal's OnCommit hook: it folds a durable batch in
// order. Records at or below the store's position were folded already (the
// hook and a startup replay may overlap) and are ignored. A record that
// cannot be folded (undecodable, or an illegal transition) is a bug
// upstream: it is logged, counted (Skipped) and stepped over, so the store
// stays at the journal's position and equal to a replay, which skips it
// the same way. Decoding happens before the write lock is taken.
func (st *Store) ApplyRecords(recs []journal.Record) {
	evs := make([]Event, len(recs))
	errs := make([]error, len(recs))
	for i, r := range recs {
		evs[i], errs[i] = Decode(r)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, r := range recs {
		if r.Seq <= st.state.seq {
			continue
		}
		if r.Seq != st.state.seq+1 {
			st.log.Warn("projector: gap in the journal", "after", st.state.seq, "next", r.Seq)
		}
		err := errs[i]
		if err == nil {
			err = st.state.Apply(evs[i])
		}
		if err != nil {
			st.skipped++
			st.state.skip(r.Seq)
			st.log.Error("projector: journal record cannot be folded, skipped",
				"seq", r.Seq, "type", r.Type, "sandbox", r.SandboxID, "container", r.ContainerID, "err", err)
		}
	}
}

// skip moves the state past a record that could not be folded, leaving
// every object as it was.
func (s *State) skip(seq uint64) {
	if seq > s.seq {
		s.seq = seq
		s.lastRemovedSandbox, s.lastRemovedContainer = nil, nil
		s.forgetDue()
	}
}

// Skipped is the number of records ApplyRecords could not fold.
func (st *Store) Skipped() uint64 {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.skipped
}

// Seq is the journal position the store reflects.
func (st *Store) Seq() uint64 {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.state.seq
}

// Snapshot returns a consistent copy of the state for a new event
// subscriber, who folds it forward privately from Seq()+1.
func (st *Store) Snapshot() *State {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.state.Clone()
}

// read runs fn under the read lock.
func read[T any](st *Store, fn func(*State) T) T {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return fn(st.state)
}

type found[T any] struct {
	v  T
	ok bool
}

// Sandbox: see State.Sandbox.
func (st *Store) Sandbox(id string) (*Sandbox, bool) {
	r := read(st, func(s *State) found[*Sandbox] { v, ok := s.Sandbox(id); return found[*Sandbox]{v, ok} })
	return r.v, r.ok
}

// Container: see State.Container.
func (st *Store) Container(id string) (*Container, bool) {
	r := read(st, func(s *State) found[*Container] { v, ok := s.Container(id); return found[*Container]{v, ok} })
	return r.v, r.ok
}

// Image: see State.Image.
func (st *Store) Image(ref string) (*Image, bool) {
	r := read(st, func(s *State) found[*Image] { v, ok := s.Image(ref); return found[*Image]{v, ok} })
	return r.v, r.ok
}

// ContainersOf: see State.ContainersOf.
func (st *Store) ContainersOf(sandboxID string) []*Container {
	return read(st, func(s *State) []*Container { return s.ContainersOf(sandboxID) })
}

// Pod returns a sandbox and its containers from one journal position (see
// State.Pod), and that position.
func (st *Store) Pod(sandboxID string) (sb *Sandbox, ctrs []*Container, seq uint64, ok bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	sb, ctrs, ok = st.state.Pod(sandboxID)
	return sb, ctrs, st.state.seq, ok
}

// Creating: see State.Creating.
func (st *Store) Creating() ([]*Sandbox, []*Container) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.state.Creating()
}

// SandboxByMetadata: see State.SandboxByMetadata.
func (st *Store) SandboxByMetadata(m *runtimeapi.PodSandboxMetadata) (*Sandbox, bool) {
	r := read(st, func(s *State) found[*Sandbox] { v, ok := s.SandboxByMetadata(m); return found[*Sandbox]{v, ok} })
	return r.v, r.ok
}

// ContainerByMetadata: see State.ContainerByMetadata.
func (st *Store) ContainerByMetadata(sandboxID string, m *runtimeapi.ContainerMetadata) (*Container, bool) {
	r := read(st, func(s *State) found[*Container] {
		v, ok := s.ContainerByMetadata(sandboxID, m)
		return found[*Container]{v, ok}
	})
	return r.v, r.ok
}

// IDUsed: see State.IDUsed.
func (st *Store) IDUsed(id string) bool {
	return read(st, func(s *State) bool { return s.IDUsed(id) })
}

// ListSandboxes: see State.ListSandboxes.
func (st *Store) ListSandboxes(f *runtimeapi.PodSandboxFilter) []*Sandbox {
	return read(st, func(s *State) []*Sandbox { return s.ListSandboxes(f) })
}

// ListContainers: see State.ListContainers.
func (st *Store) ListContainers(f *runtimeapi.ContainerFilter) []*Container {
	return read(st, func(s *State) []*Container { return s.ListContainers(f) })
}

// ListImages: see State.ListImages.
func (st *Store) ListImages(f *runtimeapi.ImageFilter) []*Image {
	return read(st, func(s *State) []*Image { return s.ListImages(f) })
}
