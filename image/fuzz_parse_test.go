package image

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// What a registry or a kubelet hands the store before anything is on disk:
// a reference, a manifest or index, an image config. These targets check
// that none of them can panic the daemon, that every refusal is classified,
// and that what is accepted is safe to build paths and requests from.

// FuzzNormalize: any string either fails with ErrInvalidReference or gives
// a reference that is a fixed point (normalising its String gives it back),
// has exactly one of tag and digest, a sha256 digest of 64 lowercase hex,
// and a repository path with no empty, "." or ".." component.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"busybox", "busybox:1.36", "myorg/x", "docker.io/busybox", "index.docker.io/library/busybox:1",
		"localhost:5000/x", "localhost/x:y", "127.0.0.1:5000/a/b/c:v1", "[::1]:5000/x:y",
		"registry.k8s.io/e2e-test-images/busybox:1.29-2", "busybox@sha256:" + hexA,
		"quay.io/x/y:tag@sha256:" + hexA, " busybox ", "", "library/Upper", "a b", "x@sha256:short",
		"../etc/passwd", "x/../../y", "/abs/path", "x//y", "x:../../y", "docker.io/library/../x",
		"sha256:" + hexA, hexA, "x@sha512:" + hexA + hexA, "x:" + strings.Repeat("t", 200),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Normalize(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("Normalize(%q): error of no class: %v", s, err)
			}
			return
		}
		if (r.Tag == "") == (r.Digest == "") {
			t.Fatalf("Normalize(%q) = %+v: want exactly one of tag and digest", s, r)
		}
		if r.Digest != "" {
			if _, err := parseDigest(r.Digest); err != nil {
				t.Fatalf("Normalize(%q) digest: %v", s, err)
			}
		}
		if r.Domain == "" || strings.ContainsAny(r.Domain, "/ \t\n\x00") {
			t.Fatalf("Normalize(%q) domain %q", s, r.Domain)
		}
		for _, c := range strings.Split(r.Path, "/") {
			if c == "" || c == "." || c == ".." {
				t.Fatalf("Normalize(%q) path %q has component %q", s, r.Path, c)
			}
		}
		again, err := Normalize(r.String())
		if err != nil || again != r {
			t.Fatalf("Normalize(%q) = %+v, but its String %q normalises to %+v, %v", s, r, r.String(), again, err)
		}
	})
}

// FuzzParseConfig: any bytes either fail with ErrInvalidImage or give a
// config whose diff IDs are all sha256 digests, whose chain IDs are too
// (they name snapshot directories), and whose user parses.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"architecture":"amd64","os":"linux","config":{"User":"www-data:1004","Env":["PATH=/bin"],
		"Entrypoint":["/pause"],"Cmd":["a","b"],"WorkingDir":"/w","StopSignal":"SIGQUIT","Labels":{"k":"v"}},
		"rootfs":{"type":"layers","diff_ids":["sha256:` + hexA + `","sha256:` + hexA + `"]}}`,
		`{"rootfs":{"type":"layers","diff_ids":[]}}`,
		`{"rootfs":{"type":"layers","diff_ids":["sha256:../../../../etc"]}}`,
		`{"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.ToUpper(hexA) + `"]}}`,
		`{"rootfs":{"type":"other"}}`, `{"config":{"User":"-1"},"rootfs":{"type":"layers"}}`,
		`{"config":null,"rootfs":{"type":"layers","diff_ids":null}}`, `not json`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseConfig(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidImage) {
				t.Fatalf("error of no class: %v", err)
			}
			return
		}
		chain := ChainIDs(c.DiffIDs)
		if len(chain) != len(c.DiffIDs) {
			t.Fatalf("%d chain IDs for %d layers", len(chain), len(c.DiffIDs))
		}
		for i := range chain {
			for _, d := range []string{c.DiffIDs[i], chain[i]} {
				if _, err := parseDigest(d); err != nil {
					t.Fatalf("layer %d: %v", i, err)
				}
			}
		}
		if uid, name := ParseUser(c.User); uid != nil && (*uid < 0 || name != "") {
			t.Fatalf("ParseUser(%q) = %d, %q", c.User, *uid, name)
		}
	})
}

// FuzzParseManifest: any bytes with any Content-Type either fail or give
// a manifest of a known media type whose every digest (index entries,
// config, layers: they name blob files) is sha256 of 64 lowercase hex,
// with no negative size; selecting a platform and checking it is an image
// never panic; and what was accepted survives a JSON round trip.
func FuzzParseManifest(f *testing.F) {
	cfg := `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + hexA + `","size":10}`
	layer := `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + hexA + `","size":5}`
	for _, s := range []struct{ raw, ct string }{
		{`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` + cfg + `,"layers":[` + layer + `]}`, ""},
		{`{"schemaVersion":2,` + cfg + `,"layers":[]}`, ""},
		{`{"schemaVersion":2,` + cfg + `,"layers":[]}`, mtDockerV2 + "; charset=utf-8"},
		{`{"schemaVersion":2,"manifests":[{"mediaType":"` + mtOCIManifest + `","digest":"sha256:` + hexA +
			`","size":7,"platform":{"os":"linux","architecture":"amd64"}},{"digest":"sha256:` + hexA + `","size":1}]}`, ""},
		{`{"schemaVersion":2,"manifests":[]}`, mtDockerList},
		{`{"schemaVersion":1,"name":"x","fsLayers":[]}`, "application/vnd.docker.distribution.manifest.v1+prettyjws"},
		{`{"schemaVersion":2}`, "application/vnd.example+json"},
		{`{"schemaVersion":2,"config":{"digest":"sha256:../../../../etc/passwd"},"layers":[]}`, mtOCIManifest},
		{`{"schemaVersion":2,` + cfg + `,"layers":[{"digest":"sha256:` + hexA + `","size":-1}]}`, mtOCIManifest},
		{`{"schemaVersion":2,"config":{"digest":"sha256:` + hexA + `","size":99999999999}}`, mtOCIManifest},
		{`{`, ""}, {`null`, "application/json"}, {`[]`, "text/plain"},
	} {
		f.Add([]byte(s.raw), s.ct)
	}
	f.Fuzz(func(t *testing.T, raw []byte, contentType string) {
		m, err := parseManifest(raw, contentType)
		if err != nil {
			return
		}
		switch m.MediaType {
		case mtOCIIndex, mtDockerList, mtOCIManifest, mtDockerV2:
		default:
			t.Fatalf("accepted media type %q", m.MediaType)
		}
		var digests []descriptor
		if m.isIndex() {
			digests = m.Manifests
			_, _ = m.selectPlatform(HostPlatform())
		} else {
			digests = append([]descriptor{m.Config}, m.Layers...)
			_ = m.checkImage()
			if m.Config.Size < 0 || m.Config.Size > maxMetadataBlob {
				t.Fatalf("config size %d accepted", m.Config.Size)
			}
			for _, l := range m.Layers {
				if l.Size < 0 {
					t.Fatalf("layer size %d accepted", l.Size)
				}
			}
		}
		for _, d := range digests {
			if _, err := parseDigest(d.Digest); err != nil {
				t.Fatalf("accepted %v", err)
			}
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		m2, err := parseManifest(again, m.MediaType)
		if err != nil || m2.MediaType != m.MediaType || len(m2.Manifests) != len(m.Manifests) ||
			len(m2.Layers) != len(m.Layers) || m2.Config.Digest != m.Config.Digest {
			t.Fatalf("round trip of %s: %+v, %v", again, m2, err)
		}
	})
}
