package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
)

// testRegistry is go-containerregistry's in-memory registry on a loopback
// httptest server, with a request log and an interception hook.
type testRegistry struct {
	srv  *httptest.Server
	host string

	mu        sync.Mutex
	requests  []string                                          // "GET /v2/...", guarded by mu
	intercept func(w http.ResponseWriter, r *http.Request) bool // guarded by mu
	inner     http.Handler
}

func newRegistry(t testing.TB, useTLS bool) *testRegistry {
	t.Helper()
	tr := &testRegistry{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.requests = append(tr.requests, r.Method+" "+r.URL.Path)
		hook := tr.intercept
		tr.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		tr.inner.ServeHTTP(w, r)
	})
	if useTLS {
		tr.srv = httptest.NewTLSServer(h)
	} else {
		tr.srv = httptest.NewServer(h)
	}
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(strings.TrimPrefix(tr.srv.URL, "http://"), "https://")
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

func (tr *testRegistry) resetLog() {
	tr.mu.Lock()
	tr.requests = nil
	tr.mu.Unlock()
}

func (tr *testRegistry) pushOptions() []remote.Option {
	return []remote.Option{remote.WithTransport(tr.srv.Client().Transport)}
}

// push uploads img as host/repo:tag.
func (tr *testRegistry) push(t testing.TB, repoTag string, img v1.Image) {
	t.Helper()
	ref, err := name.ParseReference(tr.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, tr.pushOptions()...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func (tr *testRegistry) pushIndex(t testing.TB, repoTag string, idx v1.ImageIndex) {
	t.Helper()
	ref, err := name.ParseReference(tr.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, tr.pushOptions()...); err != nil {
		t.Fatalf("push index %s: %v", ref, err)
	}
}

// dialLog records every address the store's transport dials, and refuses
// anything but loopback without resolving it: tests never leave the host.
type dialLog struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialLog) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

func (d *dialLog) transport(tlsConf *tls.Config) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d.mu.Lock()
			d.addrs = append(d.addrs, addr)
			d.mu.Unlock()
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("test transport: refusing to dial non-loopback %s", addr)
			}
			var dialer net.Dialer
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 5 * time.Second,
	}
}

// newStore opens a store in a fresh directory with a loopback-only
// transport trusting tlsFrom's certificate (when given).
func newStore(t testing.TB, opts Options, tlsFrom *testRegistry) (*Store, *dialLog) {
	t.Helper()
	dl := &dialLog{}
	var tlsConf *tls.Config
	if tlsFrom != nil {
		tlsConf = tlsFrom.srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	if opts.Transport == nil {
		opts.Transport = dl.transport(tlsConf)
	}
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dl
}

// mirrorTo routes the fake registry host "example.test" to tr over HTTP.
func mirrorTo(tr *testRegistry) map[string][]string {
	return map[string][]string{"example.test": {"http://" + tr.host}}
}

// ent is one entry of a test layer.
type ent struct {
	h    tar.Header
	body string
}

var epoch = time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)

func fileEnt(name, body string, mode int64) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: epoch}, body: body}
}

func dirEnt(name string, mode int64) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: epoch}}
}

func linkEnt(name, target string) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: epoch}}
}

func symlinkEnt(name, target string) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch}}
}

func charEnt(name string, major, minor int64) ent {
	return ent{h: tar.Header{Typeflag: tar.TypeChar, Name: name, Mode: 0o666, Devmajor: major, Devminor: minor, ModTime: epoch}}
}

func (e ent) xattr(k, v string) ent {
	if e.h.PAXRecords == nil {
		e.h.PAXRecords = map[string]string{}
	}
	e.h.PAXRecords["SCHILY.xattr."+k] = v
	e.h.Format = tar.FormatPAX
	return e
}

func tarOf(t testing.TB, entries ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.h
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerOf makes a gzip layer (or another compression, by options).
func layerOf(t testing.TB, tarBytes []byte, opts ...tarball.LayerOption) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf stacks layers into a linux image of the given architecture.
func imageOf(t testing.TB, arch string, label string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd = []string{"sh"}
	cf.Config.User = "1002:1003"
	cf.Config.Labels = map[string]string{"test": label}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// simpleImage is a two-layer image whose content is unique to label.
func simpleImage(t testing.TB, label string) v1.Image {
	return imageOf(t, "amd64", label,
		layerOf(t, tarOf(t, dirEnt("bin/", 0o755), fileEnt("bin/sh", "#!shell "+label, 0o755))),
		layerOf(t, tarOf(t, fileEnt(label, label, 0o644))),
	)
}

func mustDigest(t testing.TB, f func() (v1.Hash, error)) string {
	t.Helper()
	h, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// entries lists a directory's names, or nil when it does not exist.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func join(elem ...string) string { return filepath.Join(elem...) }

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
