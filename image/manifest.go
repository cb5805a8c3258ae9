package image

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Media types the store understands.
const (
	mtOCIIndex      = "application/vnd.oci.image.index.v1+json"
	mtOCIManifest   = "application/vnd.oci.image.manifest.v1+json"
	mtDockerList    = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerV2      = "application/vnd.docker.distribution.manifest.v2+json"
	mtOCIConfig     = "application/vnd.oci.image.config.v1+json"
	mtDockerConfig  = "application/vnd.docker.container.image.v1+json"
	mtDockerSchema1 = "application/vnd.docker.distribution.manifest.v1"

	// maxIndexDepth bounds indexes nested in indexes.
	maxIndexDepth = 4
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	URLs        []string          `json:"urls,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	} `json:"platform,omitempty"`
}

// manifest is an image manifest or an index (manifest list): the JSON
// shapes share their envelope.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Annotations   map[string]string `json:"annotations"`
}

func (m *manifest) isIndex() bool {
	return m.MediaType == mtOCIIndex || m.MediaType == mtDockerList
}

// parseManifest parses a manifest or index. mediaType is what the registry
// said (Content-Type), which wins over the document's own field; without
// either, the shape decides.
func parseManifest(raw []byte, mediaType string) (*manifest, error) {
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if mt, _, _ := strings.Cut(mediaType, ";"); mt != "" && mt != "application/json" && mt != "text/plain" {
		m.MediaType = strings.TrimSpace(mt)
	}
	if m.MediaType == "" {
		switch {
		case m.Manifests != nil:
			m.MediaType = mtOCIIndex
		case m.Config.Digest != "":
			m.MediaType = mtOCIManifest
		}
	}
	if strings.HasPrefix(m.MediaType, mtDockerSchema1) || m.SchemaVersion == 1 {
		return nil, fmt.Errorf("docker schema 1 manifests are not supported")
	}
	switch m.MediaType {
	case mtOCIIndex, mtDockerList:
		for _, d := range m.Manifests {
			if _, err := parseDigest(d.Digest); err != nil {
				return nil, fmt.Errorf("index entry: %w", err)
			}
		}
	case mtOCIManifest, mtDockerV2:
		if _, err := parseDigest(m.Config.Digest); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if m.Config.Size < 0 || m.Config.Size > maxMetadataBlob {
			return nil, fmt.Errorf("config size %d out of range", m.Config.Size)
		}
		for _, l := range m.Layers {
			if _, err := parseDigest(l.Digest); err != nil {
				return nil, fmt.Errorf("layer: %w", err)
			}
			if l.Size < 0 {
				return nil, fmt.Errorf("layer %s: negative size", l.Digest)
			}
		}
	default:
		return nil, fmt.Errorf("unsupported manifest media type %q", m.MediaType)
	}
	return &m, nil
}

// checkImage refuses manifests that are not container images: artifacts
// (Helm charts, signatures) have other config and layer media types.
func (m *manifest) checkImage() error {
	switch m.Config.MediaType {
	case mtOCIConfig, mtDockerConfig, "":
	default:
		return fmt.Errorf("config media type %q is not an image config", m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if !strings.Contains(l.MediaType, "tar") && l.MediaType != "" {
			return fmt.Errorf("layer %s: media type %q is not a layer", l.Digest, l.MediaType)
		}
	}
	return nil
}

// selectPlatform picks the first entry of an index for platform p, as OCI
// asks of clients. Entries without a platform (attestations) never match.
func (m *manifest) selectPlatform(p Platform) (descriptor, error) {
	for _, d := range m.Manifests {
		if d.Platform == nil {
			continue
		}
		q := Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}
		if p.matches(q) {
			return d, nil
		}
	}
	return descriptor{}, fmt.Errorf("%w: no manifest for %s in the index", ErrNotFound, p)
}
