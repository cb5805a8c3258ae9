package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "127.0.0.2:5000", "[::1]:0", "localhost:5000"} {
		if err := checkLoopback(ok); err != nil {
			t.Errorf("checkLoopback(%s) = %v", ok, err)
		}
	}
	for _, bad := range []string{":5000", "0.0.0.0:0", "10.0.0.1:80", "[::]:0", "example.com:80"} {
		if err := checkLoopback(bad); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("checkLoopback(%s) = %v, want ErrNotLoopback", bad, err)
		}
	}
	if err := checkLoopback("127.0.0.1"); !errors.Is(err, ErrUsage) {
		t.Errorf("no port: %v", err)
	}
}

func TestServePlan(t *testing.T) {
	h := func(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }
	plan, err := servePlan([]indexEntry{
		{Ref: "registry.k8s.io/pause:3.9", Digest: h("a")},
		{Ref: "k8s.gcr.io/pause:3.9", Digest: h("a")},
		{Ref: "docker.io/library/busybox:latest", Digest: h("b")},
		{Ref: "gcr.io/x/test-image-latest", Digest: h("c")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range plan {
		got = append(got, p.Repo+"="+p.Digest.Hex[:1])
	}
	want := "library/busybox:latest=b pause:3.9=a x/test-image-latest:latest=c"
	if strings.Join(got, " ") != want {
		t.Fatalf("plan %v, want %s", got, want)
	}
	_, err = servePlan([]indexEntry{
		{Ref: "registry.k8s.io/pause:3.9", Digest: h("a")},
		{Ref: "k8s.gcr.io/pause:3.9", Digest: h("b")},
	})
	if !errors.Is(err, ErrRepoConflict) {
		t.Fatalf("two manifests on pause:3.9: err = %v", err)
	}
}

func TestLayoutBlobs(t *testing.T) {
	dir := t.TempDir()
	data := []byte("blob")
	h, _, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h.Hex), data, 0o644); err != nil {
		t.Fatal(err)
	}
	b := layoutBlobs{dir: dir}
	ctx := context.Background()
	if n, err := b.Stat(ctx, "any/repo", h); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat = %d, %v", n, err)
	}
	rc, err := b.Get(ctx, "other/repo", h)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("Get = %q", got)
	}
	missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	if _, err := b.Stat(ctx, "r", missing); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Stat(missing) = %v", err)
	}
	if _, err := b.Get(ctx, "r", missing); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Get(missing) = %v", err)
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	_, err := startServer(context.Background(), testLogger(t), t.TempDir(), "0.0.0.0:0")
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("err = %v, want ErrNotLoopback", err)
	}
}

// testServe runs `testimages serve` on a built layout, as a caller would,
// and pulls from it with go-containerregistry over loopback.
func testServe(t *testing.T, dir string) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--layout", dir, "--addr", "127.0.0.1:0", "--addr-file", addrFile}, &stdout, &stderr)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v: %s", err, stderr.String())
		}
	}
	defer stop()

	var addr string
	waitFor(t, 30*time.Second, "the address file", func() bool {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("serve exited early: %v: %s", err, stderr.String())
		default:
		}
		b, err := os.ReadFile(addrFile)
		addr = string(b)
		return err == nil
	})
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("address file holds %q", addr)
	}

	entries, err := readIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	layoutDigest := map[string]v1.Hash{}
	for _, e := range entries {
		layoutDigest[e.Ref] = e.Digest
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	local := func(ref string) string {
		p, err := repoPath(ref)
		if err != nil {
			t.Fatal(err)
		}
		return addr + "/" + p
	}

	// By tag: the manifest the layout holds, with every blob intact.
	const busybox = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
	tag, err := name.NewTag(local(busybox), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	byTag, err := remote.Image(tag, opts...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := byTag.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d != layoutDigest[busybox] {
		t.Fatalf("pulled %s by tag, the layout has %s", d, layoutDigest[busybox])
	}
	ls, err := byTag.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Compressed() // verified against its digest while read
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// By digest: the same manifest.
	dig, err := name.NewDigest(tag.Context().String()+"@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	byDigest, err := remote.Image(dig, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if d2, err := byDigest.Digest(); err != nil || d2 != d {
		t.Fatalf("pulled %s by digest, want %s (%v)", d2, d, err)
	}
	id1, _ := byTag.ConfigName()
	id2, _ := byDigest.ConfigName()
	if id1 != id2 {
		t.Fatalf("image IDs %s and %s", id1, id2)
	}

	// Every reference resolves, and the aliases to one manifest.
	for _, ref := range wantRefs() {
		desc, err := remote.Head(mustTag(t, local(ref)), opts...)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if desc.Digest != layoutDigest[ref] {
			t.Errorf("%s: registry has %s, layout %s", ref, desc.Digest, layoutDigest[ref])
		}
	}
	tags, err := remote.List(mustTag(t, local("gcr.io/k8s-staging-cri-tools/test-image-tags:1")).Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(tags)
	if strings.Join(tags, " ") != "1 2 3" {
		t.Fatalf("test-image-tags has tags %v", tags)
	}
	if _, err := remote.Head(mustTag(t, addr+"/e2e-test-images/busybox:absent"), opts...); err == nil {
		t.Fatal("an unknown tag resolved")
	}

	stop()
	if !strings.Contains(stdout.String(), `"registry.k8s.io":["http://`+addr+`"]`) {
		t.Errorf("serve printed no mirror configuration: %s", stdout.String())
	}
	if _, err := remote.Head(tag, remote.WithContext(context.Background())); err == nil {
		t.Fatal("the registry still answers after SIGTERM")
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitForErr(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
}

// waitForErr polls check until it returns nil or the deadline passes, and
// then reports its last error.
func waitForErr(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
