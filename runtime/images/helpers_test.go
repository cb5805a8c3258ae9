package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

// testRegistry is go-containerregistry's in-memory registry on loopback,
// counting requests, with a hook that can hold or answer a request.
type testRegistry struct {
	srv  *httptest.Server
	host string

	mu        sync.Mutex
	requests  []string                                          // "GET /v2/...", guarded by mu
	intercept func(w http.ResponseWriter, r *http.Request) bool // guarded by mu
}

func newRegistry(t testing.TB) *testRegistry {
	t.Helper()
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	tr := &testRegistry{}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.requests = append(tr.requests, r.Method+" "+r.URL.Path)
		hook := tr.intercept
		tr.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *testRegistry) setIntercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	tr.mu.Lock()
	tr.intercept = fn
	tr.mu.Unlock()
}

// count returns how many requests matched method and a path containing sub.
func (tr *testRegistry) count(method, sub string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, r := range tr.requests {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, sub) {
			n++
		}
	}
	return n
}

// push uploads img as <host>/<repoTag>, which a store reaches as
// registry.test/<repoTag> through its mirror.
func (tr *testRegistry) push(t testing.TB, repoTag string, img v1.Image) {
	t.Helper()
	ref, err := name.ParseReference(tr.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(tr.srv.Client().Transport)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// testDomain is the registry host tests name; a mirror maps it to the
// loopback registry, and the upstream (https://registry.test) is refused
// by the loopback-only transport.
const testDomain = "registry.test"

func (tr *testRegistry) mirrors() map[string][]string {
	return map[string][]string{testDomain: {"http://" + tr.host}, "docker.io": {"http://" + tr.host}}
}

// loopbackOnly refuses to dial anything but loopback, without resolving
// names: tests never leave the host.
func loopbackOnly() *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("test transport: refusing to dial non-loopback %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// testImage is a two-layer image whose content and config are unique to
// label; user is its config's User.
func testImage(t testing.TB, label, user string) v1.Image {
	t.Helper()
	base := layerOf(t, map[string]string{"bin/sh": "#!shell", "etc/passwd": "root:x:0:0::/:/bin/sh\n"})
	top := layerOf(t, map[string]string{label: label})
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.Cmd = []string{"sh"}
	cf.Config.User = user
	cf.Config.Labels = map[string]string{"test": label}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var epoch = time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)

func layerOf(t testing.TB, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for p := range files {
		if dir := filepath.Dir(p); dir != "." && !seen[dir] {
			seen[dir] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for p, body := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o755, Size: int64(len(body)), ModTime: epoch}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func digestOf(t testing.TB, f func() (v1.Hash, error)) string {
	t.Helper()
	h, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// countingAppender records each Append call's record types, in order.
type countingAppender struct {
	j *journal.Journal

	mu    sync.Mutex
	calls [][]string // guarded by mu
}

func (c *countingAppender) Append(ctx context.Context, recs ...journal.Record) (uint64, error) {
	first, err := c.j.Append(ctx, recs...)
	if err == nil {
		types := make([]string, len(recs))
		for i, r := range recs {
			types[i] = r.Type
		}
		c.mu.Lock()
		c.calls = append(c.calls, types)
		c.mu.Unlock()
	}
	return first, err
}

func (c *countingAppender) appends() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]string(nil), c.calls...)
}

// env is the aggregate on a real journal, projection and store, rooted in
// one directory so that it can be closed and opened again.
type env struct {
	t      *testing.T
	dir    string
	reg    *testRegistry
	j      *journal.Journal
	proj   *projector.Store
	store  *image.Store
	app    *countingAppender
	svc    *Service
	layout runtime.Layout
	opts   envOptions
	closed bool
}

type envOptions struct {
	sandboxImage string
}

func newEnv(t *testing.T, reg *testRegistry, opts envOptions) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), reg: reg, opts: opts}
	e.open()
	t.Cleanup(e.close)
	return e
}

// open opens the journal, rebuilds the projection from it (as the daemon
// does), opens the store and builds the aggregate.
func (e *env) open() {
	t := e.t
	t.Helper()
	e.layout = runtime.Layout{Root: filepath.Join(e.dir, "root"), State: filepath.Join(e.dir, "state")}
	if err := os.MkdirAll(e.layout.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	var proj *projector.Store
	j, err := journal.Open(e.layout.Journal(), journal.Options{
		OnCommit: func(recs []journal.Record) { proj.ApplyRecords(recs) },
	})
	if err != nil {
		t.Fatal(err)
	}
	state, err := projector.Load(context.Background(), j, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	proj = projector.NewStore(state, nil)
	store, err := image.Open(e.layout.Images(), image.Options{Mirrors: e.reg.mirrors(), Transport: loopbackOnly()})
	if err != nil {
		t.Fatal(err)
	}
	e.j, e.proj, e.store = j, proj, store
	e.app = &countingAppender{j: j}
	svc, err := New(Config{
		Store: store, Projection: proj, Recorder: runtime.Recorder{Journal: e.app},
		Layout: e.layout, SandboxImage: e.opts.sandboxImage,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.closed = false
}

func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	if err := e.store.Close(); err != nil {
		e.t.Error(err)
	}
	if err := e.j.Close(); err != nil {
		e.t.Error(err)
	}
	if n := e.proj.Skipped(); n != 0 {
		e.t.Errorf("the projection refused %d records the aggregate appended", n)
	}
}

func (e *env) pull(ref string) string {
	e.t.Helper()
	id, err := e.svc.Pull(context.Background(), ref, nil)
	if err != nil {
		e.t.Fatalf("pull %s: %v", ref, err)
	}
	return id
}

func (e *env) image(ref string) *projector.Image {
	e.t.Helper()
	img, ok := e.proj.Image(ref)
	if !ok {
		e.t.Fatalf("image %s not in the projection", ref)
	}
	return img
}

// blobPath is where the store keeps a blob (image/doc.go's layout).
func (e *env) blobPath(digest string) string {
	return filepath.Join(e.layout.Images(), "content", "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func (e *env) snapshotPath(chainID string) string {
	return filepath.Join(e.layout.Images(), "snapshots", strings.TrimPrefix(chainID, "sha256:"))
}

func exists(t testing.TB, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}
