package image

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// Reference is a normalised image reference: what a kubelet and crictl
// mean by a name. Exactly one of Tag and Digest is set.
type Reference struct {
	Domain string // registry host[:port], "docker.io" for Docker Hub
	Path   string // repository path, "library/busybox"
	Tag    string // "latest" when the reference had neither tag nor digest
	Digest string // "sha256:<hex>"
}

// Normalize parses ref the way kubelets and crictl do: a name without a
// registry is on Docker Hub ("busybox" -> "docker.io/library/busybox",
// "myorg/x" -> "docker.io/myorg/x"); a first component with a dot or a
// colon, or "localhost", is a registry host and is kept; no tag means
// ":latest". A reference with both a tag and a digest is a reference by
// digest (the tag is dropped, as containerd does). Digests must be sha256.
func Normalize(ref string) (Reference, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimSpace(ref))
	if err != nil {
		return Reference{}, fmt.Errorf("%w: %q: %w", ErrInvalidReference, ref, err)
	}
	r := Reference{Domain: reference.Domain(named), Path: reference.Path(named)}
	if r.Domain == "" {
		// "a_b.c/d": a first component with a dot is taken for a registry
		// host, which the grammar then refuses as one, so the whole name
		// parses as a path of no registry at all.
		return Reference{}, fmt.Errorf("%w: %q: names no registry host", ErrInvalidReference, ref)
	}
	switch n := named.(type) {
	case reference.Digested:
		d := n.Digest()
		if d.Algorithm() != "sha256" {
			return Reference{}, fmt.Errorf("%w: %q: only sha256 digests are supported", ErrInvalidReference, ref)
		}
		r.Digest = d.String()
	case reference.Tagged:
		r.Tag = n.Tag()
	default:
		r.Tag = "latest"
	}
	return r, nil
}

// Repository is the normalised repository name: "docker.io/library/busybox".
func (r Reference) Repository() string { return r.Domain + "/" + r.Path }

// String is the normalised reference: "<repository>:<tag>" or
// "<repository>@<digest>".
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Repository() + "@" + r.Digest
	}
	return r.Repository() + ":" + r.Tag
}

// identifier is what the registry API calls the reference: tag or digest.
func (r Reference) identifier() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}
