package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/logbook-cri/logbook/image/archive"
)

// checkPulled compares a Pulled with what go-containerregistry computes for
// the image it pushed.
func checkPulled(t *testing.T, s *Store, p *Pulled, img v1.Image, name, topDigest string) {
	t.Helper()
	cfgName := mustDigest(t, img.ConfigName)
	if p.ID != cfgName {
		t.Errorf("ID = %s, want the config digest %s", p.ID, cfgName)
	}
	if p.ManifestDigest != topDigest {
		t.Errorf("ManifestDigest = %s, want %s", p.ManifestDigest, topDigest)
	}
	if p.Name != name {
		t.Errorf("Name = %s, want %s", p.Name, name)
	}
	repo, _, _ := strings.Cut(strings.Split(name, "@")[0], ":")
	if r, err := Normalize(name); err == nil {
		repo = r.Repository()
	}
	if want := repo + "@" + topDigest; p.RepoDigest != want {
		t.Errorf("RepoDigest = %s, want %s", p.RepoDigest, want)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Config, raw) {
		t.Error("Config differs from the pushed config")
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	if p.Size != size {
		t.Errorf("Size = %d, want %d (layers + config)", p.Size, size)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var diffs []string
	for _, d := range cf.RootFS.DiffIDs {
		diffs = append(diffs, d.String())
	}
	if !reflect.DeepEqual(p.ChainIDs, ChainIDs(diffs)) {
		t.Errorf("ChainIDs = %v, want %v", p.ChainIDs, ChainIDs(diffs))
	}
	missing, err := s.Check(p.ManifestDigest, p.ChainIDs)
	if err != nil || !missing.Complete() {
		t.Errorf("Check after pull = %+v, %v", missing, err)
	}
}

func TestPullByTagAndDigest(t *testing.T) {
	reg := newRegistry(t, false)
	img := simpleImage(t, "tagged")
	reg.push(t, "team/app:v1", img)
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)

	p, err := s.Pull(context.Background(), "example.test/team/app:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	digest := mustDigest(t, img.Digest)
	checkPulled(t, s, p, img, "example.test/team/app:v1", digest)

	lowers, err := s.Lowers(p.ChainIDs)
	if err != nil || len(lowers) != 2 {
		t.Fatalf("Lowers = %v, %v", lowers, err)
	}
	if got := readFile(t, join(lowers[0], "tagged")); got != "tagged" {
		t.Errorf("top layer file = %q", got)
	}
	if got := readFile(t, join(lowers[1], "bin/sh")); got != "#!shell tagged" {
		t.Errorf("bottom layer file = %q", got)
	}
	if !strings.HasPrefix(lowers[0], s.Root()+"/snapshots/") || !strings.HasSuffix(lowers[0], "/fs") {
		t.Errorf("lowerdir %s is not <root>/snapshots/<chain>/fs", lowers[0])
	}

	// Again by digest: the registry is asked for the manifest, but no blob
	// is fetched twice.
	reg.resetLog()
	byDigest := "example.test/team/app@" + digest
	p2, err := s.Pull(context.Background(), byDigest, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Release()
	checkPulled(t, s, p2, img, byDigest, digest)
	if n := reg.count("GET", "/manifests/"); n != 1 {
		t.Errorf("manifest GETs on re-pull = %d, want 1", n)
	}
	if n := reg.count("GET", "/blobs/"); n != 0 {
		t.Errorf("blob GETs on re-pull = %d, want 0", n)
	}
	// And by tag again: still asks.
	reg.resetLog()
	p3, err := s.Pull(context.Background(), "example.test/team/app:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	p3.Release()
	if n := reg.count("GET", "/manifests/v1"); n != 1 {
		t.Errorf("manifest GETs for a present tag = %d, want 1", n)
	}
}

func TestPullCompressions(t *testing.T) {
	reg := newRegistry(t, false)
	raw := tarOf(t, fileEnt("plain", "uncompressed layer", 0o644))
	plain := static.NewLayer(raw, types.OCIUncompressedLayer)
	zstd := layerOf(t, tarOf(t, fileEnt("zstd", "zstd layer", 0o644)), tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	gz := layerOf(t, tarOf(t, fileEnt("gzip", "gzip layer", 0o644)))
	img := imageOf(t, "amd64", "compressions", plain, zstd, gz)
	reg.push(t, "c:1", img)
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	p, err := s.Pull(context.Background(), "example.test/c:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	lowers, err := s.Lowers(p.ChainIDs)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range []string{"gzip", "zstd", "plain"} {
		if !exists(join(lowers[i], f)) {
			t.Errorf("layer %d lacks %s", i, f)
		}
	}
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestPullIndexResolvesPlatform(t *testing.T) {
	reg := newRegistry(t, false)
	amd := simpleImage(t, "amd64-image")
	arm := imageOf(t, "arm64", "arm64-image", layerOf(t, tarOf(t, fileEnt("arm", "arm", 0o644))))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	reg.pushIndex(t, "multi:latest", idx)
	idxDigest := mustDigest(t, idx.Digest)

	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg), Platform: Platform{OS: "linux", Architecture: "amd64"}}, nil)
	p, err := s.Pull(context.Background(), "example.test/multi", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	checkPulled(t, s, p, amd, "example.test/multi:latest", idxDigest)
	if s.hasBlob(mustDigest(t, arm.ConfigName)) {
		t.Error("the arm64 config was fetched")
	}

	sArm, _ := newStore(t, Options{Mirrors: mirrorTo(reg), Platform: Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}, nil)
	pa, err := sArm.Pull(context.Background(), "example.test/multi@"+idxDigest, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Release()
	checkPulled(t, sArm, pa, arm, "example.test/multi@"+idxDigest, idxDigest)

	sS390, _ := newStore(t, Options{Mirrors: mirrorTo(reg), Platform: Platform{OS: "linux", Architecture: "s390x"}}, nil)
	if _, err := sS390.Pull(context.Background(), "example.test/multi", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("pull for a platform the index lacks: %v, want ErrNotFound", err)
	}
	// A single-platform image for another architecture is not this node's either.
	reg.push(t, "armonly:1", arm)
	if _, err := s.Pull(context.Background(), "example.test/armonly:1", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("pull of an arm64-only image on amd64: %v, want ErrNotFound", err)
	}
}

// deadAddress is a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestPullMirrorOrder(t *testing.T) {
	reg := newRegistry(t, false)
	img := simpleImage(t, "mirrored")
	reg.push(t, "e2e-test-images/busybox:1.29-2", img)
	empty := newRegistry(t, false) // answers 404 for everything
	dead := deadAddress(t)
	s, dl := newStore(t, Options{Mirrors: map[string][]string{
		"upstream.invalid": {"http://" + dead, "http://" + empty.host, "http://" + reg.host},
	}}, nil)

	p, err := s.Pull(context.Background(), "upstream.invalid/e2e-test-images/busybox:1.29-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	checkPulled(t, s, p, img, "upstream.invalid/e2e-test-images/busybox:1.29-2", mustDigest(t, img.Digest))

	dialed := dl.dialed()
	first := func(addr string) int {
		for i, a := range dialed {
			if a == addr {
				return i
			}
		}
		return -1
	}
	iDead, iEmpty, iGood := first(dead), first(empty.host), first(reg.host)
	if iDead < 0 || iEmpty < 0 || iGood < 0 || !(iDead < iEmpty && iEmpty < iGood) {
		t.Errorf("dial order %v: want %s, then %s, then %s", dialed, dead, empty.host, reg.host)
	}
	for _, a := range dialed {
		if strings.HasPrefix(a, "upstream.invalid") {
			t.Errorf("the upstream was contacted although a mirror served: %v", dialed)
		}
	}
	if empty.count("GET", "/manifests/1.29-2") != 1 {
		t.Error("the empty mirror was not asked")
	}

	// With every mirror failing, the upstream is tried (and refused by the
	// loopback-only transport here), and the first real answer wins.
	s2, dl2 := newStore(t, Options{Mirrors: map[string][]string{"upstream.invalid": {"http://" + dead, "http://" + empty.host}}}, nil)
	_, err = s2.Pull(context.Background(), "upstream.invalid/nothing:here", nil)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("pull with a dead and an empty mirror: %v, want ErrNotFound", err)
	}
	if d := dl2.dialed(); len(d) == 0 || d[len(d)-1] != "upstream.invalid:443" {
		t.Errorf("the upstream was not tried last over https: %v", d)
	}
}

func TestPullUpstreamHTTPS(t *testing.T) {
	reg := newRegistry(t, true)
	img := simpleImage(t, "tls")
	reg.push(t, "secure/app:1", img)
	s, _ := newStore(t, Options{}, reg)
	ref := reg.host + "/secure/app:1"
	p, err := s.Pull(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	checkPulled(t, s, p, img, ref, mustDigest(t, img.Digest))
}

func TestPullInsecureOnlyWhenConfigured(t *testing.T) {
	reg := newRegistry(t, false)
	img := simpleImage(t, "plain")
	reg.push(t, "app:1", img)
	reg.resetLog()
	ref := reg.host + "/app:1"

	// 127.0.0.1 is no reason to speak plain HTTP.
	s, _ := newStore(t, Options{}, nil)
	if _, err := s.Pull(context.Background(), ref, nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("pull over https from a plain-HTTP registry: %v, want ErrUnavailable", err)
	}
	if n := reg.count("GET", "/"); n != 0 {
		t.Errorf("the plain-HTTP registry served %d requests to a store not configured for it", n)
	}

	s2, _ := newStore(t, Options{Mirrors: map[string][]string{reg.host: {"http://" + reg.host}}}, nil)
	p, err := s2.Pull(context.Background(), ref, nil)
	if err != nil {
		t.Fatalf("pull with the endpoint configured as http: %v", err)
	}
	defer p.Release()
	checkPulled(t, s2, p, img, ref, mustDigest(t, img.Digest))
}

func TestPullAuth(t *testing.T) {
	reg := newRegistry(t, false)
	img := simpleImage(t, "private")
	reg.push(t, "private/app:1", img)
	mirrors := mirrorTo(reg)
	ref := "example.test/private/app:1"

	type scheme struct {
		name      string
		intercept func(w http.ResponseWriter, r *http.Request) bool
		good      []*Auth
		bad       []*Auth
	}
	basic := func(w http.ResponseWriter, r *http.Request) bool {
		if u, pw, ok := r.BasicAuth(); ok && u == "alice" && pw == "s3cret" {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"who are you"}]}`, http.StatusUnauthorized)
		return true
	}
	bearer := func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/token" {
			if r.Method != http.MethodPost || r.FormValue("refresh_token") != "identity-token" {
				http.Error(w, `{"errors":[{"code":"DENIED"}]}`, http.StatusUnauthorized)
				return true
			}
			fmt.Fprint(w, `{"access_token":"from-identity","token":"from-identity"}`)
			return true
		}
		switch r.Header.Get("Authorization") {
		case "Bearer registry-token", "Bearer from-identity":
			return false
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, reg.host))
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return true
	}
	schemes := []scheme{
		{"basic", basic,
			[]*Auth{{Username: "alice", Password: "s3cret"}, {Auth: base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))}},
			[]*Auth{nil, {Username: "alice", Password: "wrong"}, {Auth: base64.StdEncoding.EncodeToString([]byte("alice:nope"))}}},
		{"bearer", bearer,
			[]*Auth{{RegistryToken: "registry-token"}, {IdentityToken: "identity-token"}},
			[]*Auth{nil, {RegistryToken: "forged"}, {IdentityToken: "stolen"}}},
	}
	for _, sc := range schemes {
		t.Run(sc.name, func(t *testing.T) {
			reg.setIntercept(sc.intercept)
			defer reg.setIntercept(nil)
			for i, a := range sc.bad {
				s, _ := newStore(t, Options{Mirrors: mirrors}, nil)
				if _, err := s.Pull(context.Background(), ref, a); !errors.Is(err, ErrUnauthenticated) {
					t.Errorf("bad credentials %d: %v, want ErrUnauthenticated", i, err)
				}
			}
			for i, a := range sc.good {
				s, _ := newStore(t, Options{Mirrors: mirrors}, nil)
				p, err := s.Pull(context.Background(), ref, a)
				if err != nil {
					t.Errorf("good credentials %d: %v", i, err)
					continue
				}
				checkPulled(t, s, p, img, ref, mustDigest(t, img.Digest))
				p.Release()
			}
		})
	}
	s, _ := newStore(t, Options{Mirrors: mirrors}, nil)
	if _, err := s.Pull(context.Background(), ref, &Auth{Auth: "%%%"}); !errors.Is(err, ErrInvalidAuth) {
		t.Errorf("malformed auth: %v, want ErrInvalidAuth", err)
	}
}

func TestPullNotFoundAndInvalid(t *testing.T) {
	reg := newRegistry(t, false)
	reg.push(t, "app:1", simpleImage(t, "x"))
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	for _, ref := range []string{"example.test/app:2", "example.test/nothing:1", "example.test/app@sha256:" + hexA} {
		if _, err := s.Pull(context.Background(), ref, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("Pull(%s) = %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := s.Pull(context.Background(), "Not A Reference", nil); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("Pull(invalid) = %v, want ErrInvalidReference", err)
	}

	// A layer that climbs out of its root is an invalid image, and leaves
	// no snapshot.
	evil := imageOf(t, "amd64", "evil", layerOf(t, tarOf(t, fileEnt("../../etc/evil", "x", 0o644))))
	reg.push(t, "evil:1", evil)
	_, err := s.Pull(context.Background(), "example.test/evil:1", nil)
	if !errors.Is(err, ErrInvalidImage) || !errors.Is(err, archive.ErrBreakout) {
		t.Errorf("pull of a breakout layer: %v, want ErrInvalidImage and archive.ErrBreakout", err)
	}

	// An artifact is not an image.
	art := mutate.MediaType(mutate.ConfigMediaType(simpleImage(t, "art"), "application/vnd.cncf.helm.config.v1+json"), types.OCIManifestSchema1)
	reg.push(t, "chart:1", art)
	if _, err := s.Pull(context.Background(), "example.test/chart:1", nil); !errors.Is(err, ErrInvalidImage) {
		t.Errorf("pull of a Helm chart: %v, want ErrInvalidImage", err)
	}
	s.Close()
	for _, d := range []string{s.snapDir, s.tmpDir, s.ingestDir} {
		if n := entries(t, d); len(n) != 0 {
			t.Errorf("%s left: %v", d, n)
		}
	}
}

func TestPullDeadline(t *testing.T) {
	reg := newRegistry(t, false)
	reg.push(t, "app:1", simpleImage(t, "slow"))
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)

	// A 1 ms deadline fails even against a healthy registry: the pull
	// always goes to the registry.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := s.Pull(ctx, "example.test/app:1", nil); !errors.Is(err, ErrDeadlineExceeded) {
		t.Errorf("1ms pull: %v, want ErrDeadlineExceeded", err)
	}

	// A registry that stalls on the manifest.
	arrived := make(chan struct{}, 16)
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") {
			arrived <- struct{}{}
			<-r.Context().Done()
			return true
		}
		return false
	})
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Pull(ctx, "example.test/app:1", nil); !errors.Is(err, ErrDeadlineExceeded) {
		t.Errorf("pull from a stalled registry: %v, want ErrDeadlineExceeded", err)
	}
	for len(arrived) > 0 {
		<-arrived
	}
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	if _, err := s.Pull(ctx, "example.test/app:1", nil); !errors.Is(err, ErrCanceled) {
		t.Errorf("cancelled pull: %v, want ErrCanceled", err)
	}
}

func TestPullProgressTimeout(t *testing.T) {
	reg := newRegistry(t, false)
	img := simpleImage(t, "trickle")
	reg.push(t, "app:1", img)
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return true
		}
		return false
	})
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg), ProgressTimeout: 150 * time.Millisecond}, nil)
	_, err := s.Pull(context.Background(), "example.test/app:1", nil)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no data for") {
		t.Errorf("stalled blob: %v, want ErrUnavailable (no data)", err)
	}
	s.Close()
	if n := entries(t, s.ingestDir); len(n) != 0 {
		t.Errorf("ingest left: %v", n)
	}
}

func TestPullDigestMismatch(t *testing.T) {
	reg := newRegistry(t, false)
	img := simpleImage(t, "corrupt")
	reg.push(t, "app:1", img)
	layers, _ := img.Layers()
	bad, _ := layers[0].Digest()
	// Flip one byte of the bottom layer's body, keeping its length.
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+bad.String()) {
			return false
		}
		rec := httptest.NewRecorder()
		reg.inner.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		body[len(body)/2] ^= 0xff
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
		return true
	})
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	_, err := s.Pull(context.Background(), "example.test/app:1", nil)
	if !errors.Is(err, ErrDigestMismatch) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("pull of a corrupted blob: %v, want ErrDigestMismatch (Unavailable)", err)
	}
	s.Close()
	if s.hasBlob(bad.String()) {
		t.Error("the corrupted blob was kept")
	}
	if n := entries(t, s.snapDir); len(n) != 0 {
		t.Errorf("snapshots left: %v", n)
	}
	for _, d := range []string{s.ingestDir, s.tmpDir} {
		if n := entries(t, d); len(n) != 0 {
			t.Errorf("%s left: %v", d, n)
		}
	}
}

func TestPullConcurrentIsDoneOnce(t *testing.T) {
	reg := newRegistry(t, false)
	img := simpleImage(t, "shared")
	reg.push(t, "app:1", img)
	gate := make(chan struct{})
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/blobs/") {
			<-gate
		}
		return false
	})
	reg.resetLog()
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)

	const callers = 4
	var wg sync.WaitGroup
	results := make([]*Pulled, callers)
	errs := make([]error, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Pull(context.Background(), "example.test/app:1", nil)
		}()
	}
	key := "example.test/app:1\x00"
	waitFor(t, "all callers to join", func() bool { return s.pulls.waiting(key) == callers })
	close(gate)
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		defer results[i].Release()
		checkPulled(t, s, results[i], img, "example.test/app:1", mustDigest(t, img.Digest))
	}
	m, _ := img.Manifest()
	if n := reg.count("GET", "/blobs/"); n != len(m.Layers)+1 {
		t.Errorf("blob GETs = %d, want %d (each blob once)", n, len(m.Layers)+1)
	}
	if n := reg.count("GET", "/manifests/"); n != 1 {
		t.Errorf("manifest GETs = %d, want 1", n)
	}
	// Each caller has its own lease: releasing one keeps the others.
	results[0].Release()
	res, err := s.GC(context.Background(), Refs{})
	if err != nil || res.BlobsRemoved != 0 || res.SnapshotsRemoved != 0 {
		t.Errorf("GC with callers still holding: %+v, %v", res, err)
	}
}

func TestPullSharedLayersAcrossImages(t *testing.T) {
	reg := newRegistry(t, false)
	base := layerOf(t, tarOf(t, dirEnt("bin/", 0o755), fileEnt("bin/sh", "shared base", 0o755)))
	a := imageOf(t, "amd64", "a", base, layerOf(t, tarOf(t, fileEnt("a", "a", 0o644))))
	b := imageOf(t, "amd64", "b", base, layerOf(t, tarOf(t, fileEnt("b", "b", 0o644))))
	reg.push(t, "a:1", a)
	reg.push(t, "b:1", b)
	gate := make(chan struct{})
	baseDigest, _ := base.Digest()
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/blobs/"+baseDigest.String()) {
			<-gate
		}
		return false
	})
	reg.resetLog()
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	var wg sync.WaitGroup
	var pa, pb *Pulled
	var ea, eb error
	wg.Add(2)
	go func() { defer wg.Done(); pa, ea = s.Pull(context.Background(), "example.test/a:1", nil) }()
	go func() { defer wg.Done(); pb, eb = s.Pull(context.Background(), "example.test/b:1", nil) }()
	waitFor(t, "both pulls to wait for the shared blob", func() bool { return s.blobs.waiting(baseDigest.String()) == 2 })
	close(gate)
	wg.Wait()
	if ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	defer pa.Release()
	defer pb.Release()
	if n := reg.count("GET", "/blobs/"+baseDigest.String()); n != 1 {
		t.Errorf("shared layer fetched %d times, want 1", n)
	}
	if pa.ChainIDs[0] != pb.ChainIDs[0] {
		t.Error("the shared bottom layer has two chain IDs")
	}
	if n := len(entries(t, s.snapDir)); n != 3 {
		t.Errorf("%d snapshots, want 3 (one shared)", n)
	}
}

func TestPullAfterClose(t *testing.T) {
	reg := newRegistry(t, false)
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	s.Close()
	if _, err := s.Pull(context.Background(), "example.test/app:1", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Pull after Close: %v, want ErrClosed", err)
	}
}

func TestCloseStopsPullsInFlight(t *testing.T) {
	reg := newRegistry(t, false)
	reg.push(t, "app:1", simpleImage(t, "closing"))
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/blobs/") {
			<-r.Context().Done()
			return true
		}
		return false
	})
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Pull(context.Background(), "example.test/app:1", nil)
		errc <- err
	}()
	waitFor(t, "a blob request", func() bool { return reg.count("GET", "/blobs/") > 0 })
	s.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("pull interrupted by Close: %v, want ErrClosed", err)
	}
	if n := entries(t, s.ingestDir); len(n) != 0 {
		t.Errorf("ingest left after Close: %v", n)
	}
}

func TestOpenLocksRoot(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	s.Close()
	s2, err := Open(root, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
	if _, err := Open(root, Options{Mirrors: map[string][]string{"x": {"gopher://x"}}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Open with a bad mirror: %v", err)
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	reg := newRegistry(t, false)
	reg.push(t, "app:1", simpleImage(t, "kept"))
	root := t.TempDir()
	s, err := Open(root, Options{Mirrors: mirrorTo(reg), Transport: (&dialLog{}).transport(nil)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Pull(context.Background(), "example.test/app:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Release()
	s.Close()

	// What a crash leaves: a partial blob, a half-unpacked snapshot, GC
	// trash; and what does not belong: a blob with a bad name, a snapshot
	// directory without metadata.
	junk := []string{
		join(root, "ingest", "0123456789abcdef-42"),
		join(root, "tmp", "snap-1234", "fs", "etc", "passwd"),
		join(root, "tmp", "gc-99", "s-"+hexA, "fs", "x"),
		join(root, "content", "blobs", "sha256", "not-a-digest"),
		join(root, "snapshots", hexA, "fs", "half"),
	}
	for _, j := range junk {
		if err := os.MkdirAll(filepath.Dir(j), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(j, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, d := range []string{join(root, "ingest"), join(root, "tmp")} {
		if n := entries(t, d); len(n) != 0 {
			t.Errorf("%s not emptied: %v", d, n)
		}
	}
	if exists(junk[3]) || exists(join(root, "snapshots", hexA)) {
		t.Error("foreign entries in blobs/ or snapshots/ survived Open")
	}
	missing, err := s.Check(p.ManifestDigest, p.ChainIDs)
	if err != nil || !missing.Complete() {
		t.Errorf("the committed image did not survive Open: %+v, %v", missing, err)
	}
}

func TestCheckReportsMissing(t *testing.T) {
	reg := newRegistry(t, false)
	img := simpleImage(t, "check")
	reg.push(t, "app:1", img)
	s, _ := newStore(t, Options{Mirrors: mirrorTo(reg)}, nil)
	p, err := s.Pull(context.Background(), "example.test/app:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	layers, _ := img.Layers()
	top, _ := layers[1].Digest()
	if err := os.Remove(s.blobPath(top.String())); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.snapshotDir(p.ChainIDs[0])); err != nil {
		t.Fatal(err)
	}
	for _, chains := range [][]string{p.ChainIDs, nil} {
		m, err := s.Check(p.ManifestDigest, chains)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Blobs, []string{top.String()}) || !reflect.DeepEqual(m.Snapshots, []string{p.ChainIDs[0]}) {
			t.Errorf("Check(chains=%v) = %+v", chains != nil, m)
		}
	}
	if _, err := s.Lowers(p.ChainIDs); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lowers with a missing snapshot: %v, want ErrNotFound", err)
	}
	m, err := s.Check("sha256:"+hexA, nil)
	if err != nil || !reflect.DeepEqual(m.Blobs, []string{"sha256:" + hexA}) {
		t.Errorf("Check(unknown) = %+v, %v", m, err)
	}
}
