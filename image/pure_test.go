package image

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	godigest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
)

const hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestNormalize(t *testing.T) {
	cases := []struct {
		in   string
		want string
		err  error
	}{
		{"busybox", "docker.io/library/busybox:latest", nil},
		{"busybox:1.36", "docker.io/library/busybox:1.36", nil},
		{"myorg/x", "docker.io/myorg/x:latest", nil},
		{"docker.io/busybox", "docker.io/library/busybox:latest", nil},
		{"index.docker.io/library/busybox:1", "docker.io/library/busybox:1", nil},
		{"localhost:5000/x", "localhost:5000/x:latest", nil},
		{"localhost/x:y", "localhost/x:y", nil},
		{"127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000/a/b/c:v1", nil},
		{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9", nil},
		{"gcr.io/k8s-staging-cri-tools/test-image-latest", "gcr.io/k8s-staging-cri-tools/test-image-latest:latest", nil},
		{"busybox@sha256:" + hexA, "docker.io/library/busybox@sha256:" + hexA, nil},
		{"quay.io/x/y:tag@sha256:" + hexA, "quay.io/x/y@sha256:" + hexA, nil},
		{" busybox ", "docker.io/library/busybox:latest", nil},
		{"", "", ErrInvalidReference},
		{"library/Upper", "", ErrInvalidReference},
		{"a b", "", ErrInvalidReference},
		{"x@sha256:short", "", ErrInvalidReference},
		{"x@sha512:" + hexA + hexA, "", ErrInvalidReference},
		{hexA, "", ErrInvalidReference}, // a bare image ID is not a name
		{"x:" + string(make([]byte, 200)), "", ErrInvalidReference},
	}
	for _, c := range cases {
		r, err := Normalize(c.in)
		if !errors.Is(err, c.err) {
			t.Errorf("Normalize(%q) error = %v, want %v", c.in, err, c.err)
			continue
		}
		if err == nil && r.String() != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, r.String(), c.want)
		}
	}
	r, err := Normalize("busybox")
	if err != nil || r.Domain != "docker.io" || r.Path != "library/busybox" || r.Tag != "latest" || r.Digest != "" ||
		r.Repository() != "docker.io/library/busybox" || r.identifier() != "latest" {
		t.Errorf("Normalize(busybox) = %+v, %v", r, err)
	}
}

func TestParseUser(t *testing.T) {
	i := func(n int64) *int64 { return &n }
	cases := []struct {
		in       string
		uid      *int64
		username string
	}{
		{"", nil, ""},
		{"1002", i(1002), ""},
		{"0", i(0), ""},
		{"www-data", nil, "www-data"},
		{"1003:1004", i(1003), ""},
		{"www-data:1004", nil, "www-data"},
		{":1004", nil, ""},
		{"-1", nil, "-1"},
		{"65535:65535", i(65535), ""},
	}
	for _, c := range cases {
		uid, name := ParseUser(c.in)
		if !reflect.DeepEqual(uid, c.uid) || name != c.username {
			t.Errorf("ParseUser(%q) = %v, %q; want %v, %q", c.in, uid, name, c.uid, c.username)
		}
	}
}

func TestParseConfig(t *testing.T) {
	raw := `{"architecture":"amd64","os":"linux","config":{"User":"www-data:1004","Env":["PATH=/bin"],
		"Entrypoint":["/pause"],"Cmd":["a","b"],"WorkingDir":"/w","StopSignal":"SIGQUIT","Labels":{"k":"v"}},
		"rootfs":{"type":"layers","diff_ids":["sha256:` + hexA + `"]}}`
	c, err := ParseConfig([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{OS: "linux", Architecture: "amd64", User: "www-data:1004", Env: []string{"PATH=/bin"},
		Entrypoint: []string{"/pause"}, Cmd: []string{"a", "b"}, WorkingDir: "/w", StopSignal: "SIGQUIT",
		Labels: map[string]string{"k": "v"}, DiffIDs: []string{"sha256:" + hexA}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ParseConfig = %+v\nwant %+v", c, want)
	}
	for _, bad := range []string{
		`not json`,
		`{"rootfs":{"type":"other","diff_ids":[]}}`,
		`{"rootfs":{"type":"layers","diff_ids":["md5:abc"]}}`,
	} {
		if _, err := ParseConfig([]byte(bad)); !errors.Is(err, ErrInvalidImage) {
			t.Errorf("ParseConfig(%s) = %v, want ErrInvalidImage", bad, err)
		}
	}
}

func TestChainIDsMatchImageSpec(t *testing.T) {
	var diffs []string
	var want []godigest.Digest
	for i := 0; i < 5; i++ {
		diffs = append(diffs, godigest.FromString(fmt.Sprint("layer", i)).String())
	}
	for _, d := range diffs {
		want = append(want, godigest.Digest(d))
	}
	want = identity.ChainIDs(want)
	got := ChainIDs(diffs)
	for i := range want {
		if got[i] != want[i].String() {
			t.Errorf("chain id %d = %s, want %s", i, got[i], want[i])
		}
	}
	if len(ChainIDs(nil)) != 0 {
		t.Error("ChainIDs(nil) not empty")
	}
}

func TestPlatformMatches(t *testing.T) {
	cases := []struct {
		node, image Platform
		want        bool
	}{
		{Platform{"linux", "amd64", ""}, Platform{"linux", "amd64", ""}, true},
		{Platform{"linux", "amd64", ""}, Platform{"linux", "arm64", ""}, false},
		{Platform{"linux", "amd64", ""}, Platform{"windows", "amd64", ""}, false},
		{Platform{"linux", "arm64", "v8"}, Platform{"linux", "arm64", ""}, true},
		{Platform{"linux", "arm64", ""}, Platform{"linux", "arm64", "v8"}, true},
		{Platform{"linux", "arm", "v7"}, Platform{"linux", "arm", "v6"}, false},
		{Platform{"linux", "arm", "v7"}, Platform{"linux", "arm", "v7"}, true},
	}
	for _, c := range cases {
		if got := c.node.matches(c.image); got != c.want {
			t.Errorf("%s.matches(%s) = %v, want %v", c.node, c.image, got, c.want)
		}
	}
}

func TestSelectPlatform(t *testing.T) {
	d := func(os, arch, variant, hex string) descriptor {
		var desc descriptor
		desc.Digest = "sha256:" + hex
		if os != "" {
			desc.Platform = &struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
				Variant      string `json:"variant"`
			}{os, arch, variant}
		}
		return desc
	}
	b := "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	c := "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	idx := &manifest{MediaType: mtOCIIndex, Manifests: []descriptor{
		d("", "", "", hexA), // an attestation without a platform
		d("unknown", "unknown", "", hexA),
		d("linux", "arm64", "v8", b),
		d("linux", "amd64", "", c),
		d("linux", "amd64", "", hexA),
	}}
	got, err := idx.selectPlatform(Platform{"linux", "amd64", ""})
	if err != nil || got.Digest != "sha256:"+c {
		t.Errorf("amd64: %v, %v", got.Digest, err)
	}
	got, err = idx.selectPlatform(Platform{"linux", "arm64", "v8"})
	if err != nil || got.Digest != "sha256:"+b {
		t.Errorf("arm64: %v, %v", got.Digest, err)
	}
	if _, err := idx.selectPlatform(Platform{"linux", "s390x", ""}); !errors.Is(err, ErrNotFound) {
		t.Errorf("s390x: %v, want ErrNotFound", err)
	}
}

func TestParseManifest(t *testing.T) {
	cfg := `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + hexA + `","size":10}`
	cases := []struct {
		name, raw, ct string
		index, ok     bool
	}{
		{"oci manifest", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` + cfg + `,"layers":[]}`, "", false, true},
		{"shape decides", `{"schemaVersion":2,` + cfg + `,"layers":[]}`, "", false, true},
		{"content type decides", `{"schemaVersion":2,"manifests":[]}`, "application/vnd.docker.distribution.manifest.list.v2+json", true, true},
		{"index by shape", `{"schemaVersion":2,"manifests":[]}`, "", true, true},
		{"schema 1", `{"schemaVersion":1,"name":"x","fsLayers":[]}`, "application/vnd.docker.distribution.manifest.v1+prettyjws", false, false},
		{"unknown type", `{"schemaVersion":2}`, "application/vnd.example+json", false, false},
		{"bad config digest", `{"schemaVersion":2,"config":{"digest":"sha256:zz"},"layers":[]}`, mtOCIManifest, false, false},
		{"bad layer digest", `{"schemaVersion":2,` + cfg + `,"layers":[{"digest":"md5:x"}]}`, mtOCIManifest, false, false},
		{"negative layer size", `{"schemaVersion":2,` + cfg + `,"layers":[{"digest":"sha256:` + hexA + `","size":-1}]}`, mtOCIManifest, false, false},
		{"not json", `{`, "", false, false},
	}
	for _, c := range cases {
		m, err := parseManifest([]byte(c.raw), c.ct)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
			continue
		}
		if err == nil && m.isIndex() != c.index {
			t.Errorf("%s: isIndex = %v", c.name, m.isIndex())
		}
	}
	art := &manifest{Config: descriptor{MediaType: "application/vnd.cncf.helm.config.v1+json"}}
	if art.checkImage() == nil {
		t.Error("a Helm chart passed checkImage")
	}
	img := &manifest{Config: descriptor{MediaType: mtDockerConfig}, Layers: []descriptor{{MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"}}}
	if err := img.checkImage(); err != nil {
		t.Errorf("checkImage(docker image) = %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	m, err := parseMirrors(map[string][]string{
		"registry.k8s.io": {"http://127.0.0.1:5000", "https://mirror.example:8443/"},
		"docker.io":       {"https://hub-mirror.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := func(domain string) []string {
		var out []string
		for _, e := range endpointsFor(m, domain) {
			out = append(out, e.String())
		}
		return out
	}
	cases := map[string][]string{
		"registry.k8s.io": {"http://127.0.0.1:5000", "https://mirror.example:8443", "https://registry.k8s.io"},
		"docker.io":       {"https://hub-mirror.example", "https://registry-1.docker.io"},
		"gcr.io":          {"https://gcr.io"},
		"localhost:5000":  {"https://localhost:5000"},
	}
	for domain, want := range cases {
		if g := got(domain); !reflect.DeepEqual(g, want) {
			t.Errorf("endpointsFor(%s) = %v, want %v", domain, g, want)
		}
	}
	dup, _ := parseMirrors(map[string][]string{"r.example": {"https://r.example"}})
	if g := endpointsFor(dup, "r.example"); len(g) != 1 {
		t.Errorf("duplicate endpoint kept: %v", g)
	}
	for _, bad := range []map[string][]string{
		{"r": {"ftp://x"}},
		{"r": {"http://x/path"}},
		{"r": {"http://user:pw@x"}},
		{"r": {"http://x?q=1"}},
		{"r": {"://"}},
		{"": {"http://x"}},
		{"a/b": {"http://x"}},
	} {
		if _, err := parseMirrors(bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("parseMirrors(%v) = %v, want ErrInvalidOptions", bad, err)
		}
	}
}

func TestStatusClass(t *testing.T) {
	diag := func(code transport.ErrorCode) []transport.Diagnostic { return []transport.Diagnostic{{Code: code}} }
	cases := []struct {
		te   transport.Error
		want error
	}{
		{transport.Error{StatusCode: http.StatusNotFound, Errors: diag(transport.ManifestUnknownErrorCode)}, ErrNotFound},
		{transport.Error{StatusCode: http.StatusNotFound, Errors: diag(transport.NameUnknownErrorCode)}, ErrNotFound},
		{transport.Error{StatusCode: http.StatusNotFound}, ErrNotFound},
		{transport.Error{StatusCode: http.StatusUnauthorized, Errors: diag(transport.UnauthorizedErrorCode)}, ErrUnauthenticated},
		{transport.Error{StatusCode: http.StatusForbidden}, ErrUnauthenticated},
		{transport.Error{StatusCode: http.StatusBadRequest, Errors: diag(transport.NameInvalidErrorCode)}, ErrInvalidReference},
		{transport.Error{StatusCode: http.StatusTooManyRequests}, ErrUnavailable},
		{transport.Error{StatusCode: http.StatusBadGateway}, ErrUnavailable},
		{transport.Error{StatusCode: http.StatusTeapot}, ErrUnavailable},
	}
	for _, c := range cases {
		te := c.te
		if got := statusClass(&te); got != c.want {
			t.Errorf("statusClass(%d %v) = %v, want %v", te.StatusCode, te.Errors, got, c.want)
		}
	}
}

func TestOutcome(t *testing.T) {
	cases := map[string]error{
		"ok":                nil,
		"invalid_argument":  fmt.Errorf("x: %w", ErrInvalidImage),
		"not_found":         ErrNotFound,
		"unauthenticated":   ErrUnauthenticated,
		"unavailable":       ErrDigestMismatch,
		"deadline_exceeded": ErrDeadlineExceeded,
		"canceled":          ErrCanceled,
		"internal":          ErrLocked,
		"unknown":           errors.New("x"),
	}
	for want, err := range cases {
		if got := Outcome(err); got != want {
			t.Errorf("Outcome(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestAuthenticator(t *testing.T) {
	if _, err := (&Auth{Auth: "!!!"}).authenticator(); !errors.Is(err, ErrInvalidAuth) {
		t.Errorf("bad base64: %v", err)
	}
	if _, err := (&Auth{Auth: "bm9jb2xvbg=="}).authenticator(); !errors.Is(err, ErrInvalidAuth) { // "nocolon"
		t.Errorf("no colon: %v", err)
	}
	a, err := (&Auth{Auth: "dXNlcjpwYXNz"}).authenticator() // user:pass
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	if err != nil || cfg.Username != "user" || cfg.Password != "pass" {
		t.Errorf("decoded auth = %+v, %v", cfg, err)
	}
	var nilAuth *Auth
	if nilAuth.fingerprint() != "" || (&Auth{}).fingerprint() != "" {
		t.Error("empty auth has a fingerprint")
	}
	if (&Auth{Username: "a", Password: "b"}).fingerprint() == (&Auth{Username: "a", Password: "c"}).fingerprint() {
		t.Error("different credentials share a fingerprint")
	}
}
