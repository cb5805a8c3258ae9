package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestParseLock(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	good := "# comment\n\nnginx " + sum + " 42 http://deb.debian.org/debian/pool/main/n/nginx/nginx_1_amd64.deb\n"
	p, err := parseLock(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	in, err := p.get("nginx")
	if err != nil {
		t.Fatal(err)
	}
	if in.SHA256 != sum || in.Size != 42 || in.File() != "nginx_1_amd64.deb" {
		t.Errorf("parsed %+v", in)
	}
	if _, err := p.get("absent"); !errors.Is(err, ErrUnknownInput) {
		t.Errorf("get(absent) = %v, want ErrUnknownInput", err)
	}

	bad := map[string]string{
		"three fields":   "nginx " + sum + " 42\n",
		"short sum":      "nginx abcd 42 http://x/y\n",
		"upper-case sum": "nginx " + strings.ToUpper(sum) + " 42 http://x/y\n",
		"not hex":        "nginx " + strings.Repeat("zz", 32) + " 42 http://x/y\n",
		"size":           "nginx " + sum + " many http://x/y\n",
		"zero size":      "nginx " + sum + " 0 http://x/y\n",
		"not a URL":      "nginx " + sum + " 42 /pool/x.deb\n",
		"twice":          "a " + sum + " 1 http://x/a\na " + sum + " 1 http://x/b\n",
	}
	for name, text := range bad {
		if _, err := parseLock(strings.NewReader(text)); !errors.Is(err, ErrLockFile) {
			t.Errorf("%s: err = %v, want ErrLockFile", name, err)
		}
	}
}

func TestCommittedLockPinsEveryInput(t *testing.T) {
	repo, err := findRepo("")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(repo, "testdata", "images", "inputs.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := parseLock(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range inputsFor(catalog(true)) {
		in, err := p.get(name)
		if err != nil {
			t.Error(err)
			continue
		}
		if !strings.HasPrefix(in.URL, defaultDebianMirror+"/pool/") {
			t.Errorf("%s: %s is not in Debian's pool", name, in.URL)
		}
	}
}

func TestMirrorURL(t *testing.T) {
	const u = "http://deb.debian.org/debian/pool/main/b/busybox/x.tar.xz"
	tests := []struct{ url, mirror, want string }{
		{u, "", u},
		{u, "http://mirror.example/debian", "http://mirror.example/debian/pool/main/b/busybox/x.tar.xz"},
		{u, "http://mirror.example/debian/", "http://mirror.example/debian/pool/main/b/busybox/x.tar.xz"},
		{"http://other.example/x", "http://mirror.example/debian", "http://other.example/x"},
	}
	for _, tt := range tests {
		if got := mirrorURL(tt.url, tt.mirror); got != tt.want {
			t.Errorf("mirrorURL(%q, %q) = %q, want %q", tt.url, tt.mirror, got, tt.want)
		}
	}
}

// TestInputStore downloads from a loopback server standing in for the
// Debian mirror: verified downloads are cached, corrupt ones refused, and
// offline stores never download.
func TestInputStore(t *testing.T) {
	content := []byte("pinned content\n")
	corrupt := []byte("pinned c0ntent\n")
	sum := sha256.Sum256(content)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/debian/pool/good.deb":
			w.Write(content)
		case "/debian/pool/corrupt.deb":
			w.Write(corrupt)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	pin := func(file string) input {
		return input{Name: file, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content)),
			URL: defaultDebianMirror + "/pool/" + file}
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	online := &inputStore{dir: dir, mirror: srv.URL + "/debian", client: srv.Client(), log: log}
	offline := &inputStore{dir: dir, offline: true, client: srv.Client(), log: log}

	if _, err := offline.path(ctx, pin("good.deb")); !errors.Is(err, ErrInputMissing) {
		t.Fatalf("offline, missing: err = %v, want ErrInputMissing", err)
	}
	if hits.Load() != 0 {
		t.Fatal("an offline store downloaded")
	}
	p, err := online.path(ctx, pin("good.deb"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != string(content) {
		t.Fatalf("cached %q", b)
	}
	if _, err := offline.path(ctx, pin("good.deb")); err != nil {
		t.Fatalf("offline, cached: %v", err)
	}
	if _, err := online.path(ctx, pin("good.deb")); err != nil || hits.Load() != 1 {
		t.Fatalf("a cached input was downloaded again (err %v, %d requests)", err, hits.Load())
	}

	if _, err := online.path(ctx, pin("corrupt.deb")); !errors.Is(err, ErrChecksum) {
		t.Fatalf("corrupt download: err = %v, want ErrChecksum", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "corrupt.deb")); !os.IsNotExist(err) {
		t.Fatal("a corrupt download was kept")
	}
	if _, err := online.path(ctx, pin("absent.deb")); err == nil {
		t.Fatal("a 404 was accepted")
	}

	// A cached file that rotted is refused offline and replaced online.
	if err := os.WriteFile(p, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := offline.path(ctx, pin("good.deb")); !errors.Is(err, ErrInputMissing) {
		t.Fatalf("offline, corrupt cache: err = %v, want ErrInputMissing", err)
	}
	if _, err := online.path(ctx, pin("good.deb")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != string(content) {
		t.Fatalf("corrupt cache not replaced: %q", b)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".part-*"))
	if len(leftovers) > 0 {
		t.Errorf("partial downloads left behind: %v", leftovers)
	}
}
