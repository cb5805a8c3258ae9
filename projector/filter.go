package projector

import (
	"cmp"
	"slices"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The CRI list filters. Every field of a filter narrows the result (they
// are ANDed); a nil filter or an empty field does not. An ID matches
// exactly or as a prefix that names exactly one visible object (an
// ambiguous prefix matches nothing, like an unknown ID). A label selector
// matches when every one of its pairs is among the object's labels. Results
// come in creation (journal) order, so two lists of the same state are
// equal.

// ListSandboxes applies a ListPodSandbox filter.
func (s *State) ListSandboxes(f *runtimeapi.PodSandboxFilter) []*Sandbox {
	if id := f.GetId(); id != "" {
		sb, ok := s.resolveSandbox(id)
		if !ok || !sandboxMatches(sb, f) {
			return nil
		}
		return []*Sandbox{sb}
	}
	keyed := make([]keyed[*Sandbox], 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		if sb.State != SandboxCreating && sandboxMatches(sb, f) {
			keyed = append(keyed, byFirstSeq(sb.FirstSeq, sb))
		}
	}
	return sorted(keyed)
}

func sandboxMatches(sb *Sandbox, f *runtimeapi.PodSandboxFilter) bool {
	if st := f.GetState(); st != nil && sb.CRIState() != st.GetState() {
		return false
	}
	sel := f.GetLabelSelector()
	return len(sel) == 0 || labelsMatch(sb.Config.GetLabels(), sel)
}

// ListContainers applies a ListContainers filter.
func (s *State) ListContainers(f *runtimeapi.ContainerFilter) []*Container {
	if id := f.GetId(); id != "" {
		c, ok := s.resolveContainer(id)
		if !ok || !containerMatches(c, f) {
			return nil
		}
		if pod := f.GetPodSandboxId(); pod != "" {
			if sb, ok := s.resolveSandbox(pod); !ok || sb.ID != c.SandboxID {
				return nil
			}
		}
		return []*Container{c}
	}
	if pod := f.GetPodSandboxId(); pod != "" {
		sb, ok := s.resolveSandbox(pod)
		if !ok {
			return nil
		}
		var out []*Container
		for _, c := range s.ContainersOf(sb.ID) {
			if containerMatches(c, f) {
				out = append(out, c)
			}
		}
		return out
	}
	keyed := make([]keyed[*Container], 0, len(s.containers))
	for _, c := range s.containers {
		if c.State != ContainerCreating && containerMatches(c, f) {
			keyed = append(keyed, byFirstSeq(c.FirstSeq, c))
		}
	}
	return sorted(keyed)
}

func containerMatches(c *Container, f *runtimeapi.ContainerFilter) bool {
	if st := f.GetState(); st != nil && c.CRIState() != st.GetState() {
		return false
	}
	sel := f.GetLabelSelector()
	return len(sel) == 0 || labelsMatch(c.Config.GetLabels(), sel)
}

// ListImages applies a ListImages filter: with an image reference, the one
// image it resolves to (see Image); without, every image.
func (s *State) ListImages(f *runtimeapi.ImageFilter) []*Image {
	if ref := f.GetImage().GetImage(); ref != "" {
		if img, ok := s.Image(ref); ok {
			return []*Image{img}
		}
		return nil
	}
	keyed := make([]keyed[*Image], 0, len(s.images))
	for _, img := range s.images {
		keyed = append(keyed, byFirstSeq(img.FirstSeq, img))
	}
	return sorted(keyed)
}

// resolveSandbox finds a visible sandbox by ID or unique ID prefix.
func (s *State) resolveSandbox(id string) (*Sandbox, bool) {
	if sb, ok := s.Sandbox(id); ok {
		return sb, true
	}
	var found *Sandbox
	for k, sb := range s.sandboxes {
		if sb.State != SandboxCreating && strings.HasPrefix(k, id) {
			if found != nil {
				return nil, false
			}
			found = sb
		}
	}
	return found, found != nil
}

// resolveContainer finds a visible container by ID or unique ID prefix.
func (s *State) resolveContainer(id string) (*Container, bool) {
	if c, ok := s.Container(id); ok {
		return c, true
	}
	var found *Container
	for k, c := range s.containers {
		if c.State != ContainerCreating && strings.HasPrefix(k, id) {
			if found != nil {
				return nil, false
			}
			found = c
		}
	}
	return found, found != nil
}

func labelsMatch(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// keyed pairs an object with its creation position, so that sorting a list
// compares contiguous keys instead of chasing a pointer per comparison
// (that halves the cost of listing 1,000 objects).
type keyed[T any] struct {
	seq uint64
	v   T
}

func byFirstSeq[T any](seq uint64, v T) keyed[T] { return keyed[T]{seq, v} }

// sorted returns the objects in creation order.
func sorted[T any](ks []keyed[T]) []T {
	slices.SortFunc(ks, func(a, b keyed[T]) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]T, len(ks))
	for i, k := range ks {
		out[i] = k.v
	}
	return out
}
