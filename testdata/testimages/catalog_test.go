package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// wantRefs is every reference the conformance suite and logbook's tests
// pull (critest-notes section 5.1), spelled as they are requested.
func wantRefs() []string {
	const staging = "gcr.io/k8s-staging-cri-tools/"
	return []string{
		"registry.k8s.io/e2e-test-images/busybox:1.29-2",
		"registry.k8s.io/e2e-test-images/nginx:1.14-2",
		"registry.k8s.io/e2e-test-images/httpd:2.4.39-4",
		"registry.k8s.io/e2e-test-images/nonewprivs:1.3",
		"registry.k8s.io/pause:3.9",
		"k8s.gcr.io/pause:3.9",
		staging + "hostnet-nginx-amd64:latest",
		staging + "test-image-tag:test",
		staging + "test-image-tag:all",
		staging + "test-image-latest:latest",
		staging + "test-image-1:latest",
		staging + "test-image-2:latest",
		staging + "test-image-3:latest",
		staging + "test-image-tags:1",
		staging + "test-image-tags:2",
		staging + "test-image-tags:3",
		staging + "test-image-user-uid:latest",
		staging + "test-image-user-username:latest",
		staging + "test-image-user-uid-group:latest",
		staging + "test-image-user-username-group:latest",
		staging + "test-image-predefined-group:latest",
		"public.ecr.aws/docker/library/busybox:1.35.0-glibc",
		"public.ecr.aws/docker/library/busybox:1-uclibc",
		"public.ecr.aws/docker/library/busybox:1",
		"public.ecr.aws/docker/library/busybox:1-glibc",
		"public.ecr.aws/docker/library/busybox:1-musl",
		"docker.io/library/busybox:latest",
	}
}

// wantAliases are the only references that may share a manifest.
func wantAliases() [][]string {
	const staging = "gcr.io/k8s-staging-cri-tools/"
	return [][]string{
		{"registry.k8s.io/pause:3.9", "k8s.gcr.io/pause:3.9"},
		{staging + "test-image-tags:1", staging + "test-image-tags:2", staging + "test-image-tags:3"},
	}
}

func TestCatalogNamesEveryImage(t *testing.T) {
	for _, bench := range []bool{false, true} {
		var have []string
		for _, r := range catalog(bench) {
			have = append(have, r.Refs...)
		}
		want := wantRefs()
		if bench {
			want = append(want, "logbook.test/bench/big:100m")
		}
		sort.Strings(have)
		sort.Strings(want)
		if strings.Join(have, "\n") != strings.Join(want, "\n") {
			t.Errorf("bench=%v: catalogue names\n%s\nwant\n%s", bench, strings.Join(have, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestCatalogAliasesAreTheIntendedOnes(t *testing.T) {
	var groups []string
	for _, r := range catalog(true) {
		if len(r.Refs) > 1 {
			groups = append(groups, strings.Join(r.Refs, " "))
		}
	}
	var want []string
	for _, g := range wantAliases() {
		want = append(want, strings.Join(g, " "))
	}
	if strings.Join(groups, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alias groups\n%s\nwant\n%s", strings.Join(groups, "\n"), strings.Join(want, "\n"))
	}
}

func TestCatalogIsServable(t *testing.T) {
	recipes := catalog(true)
	if err := checkRepoPaths(recipes); err != nil {
		t.Fatal(err)
	}
	for _, r := range recipes {
		if r.ID == "" || len(r.Refs) == 0 || len(r.Layers) == 0 {
			t.Errorf("incomplete recipe %+v", r)
		}
		for _, ref := range r.Refs {
			tag, err := name.NewTag(ref, name.StrictValidation)
			if err != nil {
				t.Errorf("%s: %v", ref, err)
				continue
			}
			p, err := repoPath(ref)
			if err != nil {
				t.Errorf("%s: %v", ref, err)
				continue
			}
			if want := tag.RepositoryStr() + ":" + tag.TagStr(); p != want {
				t.Errorf("repoPath(%s) = %s, want %s", ref, p, want)
			}
		}
	}
}

func TestCatalogConfigs(t *testing.T) {
	byRef := map[string]recipe{}
	for _, r := range catalog(false) {
		for _, ref := range r.Refs {
			byRef[ref] = r
		}
	}
	const staging = "gcr.io/k8s-staging-cri-tools/"
	tests := []struct {
		ref, cmd, entrypoint, user string
	}{
		{"registry.k8s.io/e2e-test-images/busybox:1.29-2", "sh", "", ""},
		{"registry.k8s.io/e2e-test-images/nginx:1.14-2", "nginx -g daemon off;", "", ""},
		{"registry.k8s.io/e2e-test-images/httpd:2.4.39-4", "httpd-foreground", "", ""},
		{"registry.k8s.io/e2e-test-images/nonewprivs:1.3", "", "/usr/local/bin/nnp", ""},
		{"registry.k8s.io/pause:3.9", "", "/pause", "65535:65535"},
		{staging + "hostnet-nginx-amd64:latest", "nginx -g daemon off;", "", ""},
		{staging + "test-image-tag:test", "sh", "", ""},
		{staging + "test-image-user-uid:latest", "sh", "", "1002"},
		{staging + "test-image-user-username:latest", "sh", "", "www-data"},
		{staging + "test-image-user-uid-group:latest", "sh", "", "1003:1004"},
		{staging + "test-image-user-username-group:latest", "sh", "", "www-data:1004"},
		{staging + "test-image-predefined-group:latest", "sh", "", "1000"},
	}
	for _, tt := range tests {
		r, ok := byRef[tt.ref]
		if !ok {
			t.Errorf("%s missing", tt.ref)
			continue
		}
		c := r.Config
		if strings.Join(c.Cmd, " ") != tt.cmd || strings.Join(c.Entrypoint, " ") != tt.entrypoint || c.User != tt.user || c.WorkingDir != "" {
			t.Errorf("%s: cmd %q entrypoint %q user %q workdir %q; want cmd %q entrypoint %q user %q",
				tt.ref, c.Cmd, c.Entrypoint, c.User, c.WorkingDir, tt.cmd, tt.entrypoint, tt.user)
		}
	}
	if _, ok := byRef[staging+"hostnet-nginx-amd64:latest"].Config.ExposedPorts["12003/tcp"]; !ok {
		t.Error("hostnet-nginx does not expose 12003")
	}
}

func TestRepoPath(t *testing.T) {
	tests := []struct {
		ref, want string
		err       error
	}{
		{"registry.k8s.io/e2e-test-images/busybox:1.29-2", "e2e-test-images/busybox:1.29-2", nil},
		{"registry.k8s.io/pause:3.9", "pause:3.9", nil},
		{"docker.io/library/busybox:latest", "library/busybox:latest", nil},
		{"public.ecr.aws/docker/library/busybox:1", "docker/library/busybox:1", nil},
		{"gcr.io/k8s-staging-cri-tools/test-image-latest", "k8s-staging-cri-tools/test-image-latest:latest", nil},
		{"localhost:5000/a/b:c", "a/b:c", nil},
		{"busybox:latest", "", ErrUsage},
		{"library/busybox:latest", "", ErrUsage},
		{"registry.k8s.io/pause@sha256:" + strings.Repeat("0", 64), "", ErrUsage},
	}
	for _, tt := range tests {
		got, err := repoPath(tt.ref)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("repoPath(%s): err = %v, want %v", tt.ref, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("repoPath(%s) = %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
}

func TestCheckRepoPathsRefusesCollisions(t *testing.T) {
	ok := []recipe{
		{ID: "pause", Refs: []string{"registry.k8s.io/pause:3.9", "k8s.gcr.io/pause:3.9"}},
		{ID: "busybox", Refs: []string{"docker.io/library/busybox:latest"}},
	}
	if err := checkRepoPaths(ok); err != nil {
		t.Fatal(err)
	}
	clash := append(ok, recipe{ID: "other", Refs: []string{"gcr.io/pause:3.9"}})
	if err := checkRepoPaths(clash); !errors.Is(err, ErrRepoConflict) {
		t.Fatalf("two recipes on pause:3.9: err = %v", err)
	}
	twice := append(ok, recipe{ID: "busybox", Refs: []string{"docker.io/library/busybox:1"}})
	if err := checkRepoPaths(twice); !errors.Is(err, ErrRepoConflict) {
		t.Fatalf("one id twice: err = %v", err)
	}
}

func TestBenchDataIsDeterministicDistinctAndIncompressible(t *testing.T) {
	const size = 1 << 20
	a := benchData(1, 2, size)
	if len(a) != size || !bytes.Equal(a, benchData(1, 2, size)) {
		t.Fatal("benchData is not a function of its arguments")
	}
	if bytes.Equal(a[:4096], benchData(2, 1, size)[:4096]) || bytes.Equal(a[:4096], benchData(1, 3, size)[:4096]) {
		t.Fatal("two files share content")
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(a)
	zw.Close()
	if ratio := float64(buf.Len()) / size; ratio < 0.99 {
		t.Fatalf("gzip shrinks the data to %.2f of its size", ratio)
	}
}

// TestLayersKeepLowerDirectories checks, on synthetic artifacts, that no
// layer above the base redeclares a directory of a lower layer with other
// metadata (an implied parent "tmp" would otherwise turn /tmp 0755).
func TestLayersKeepLowerDirectories(t *testing.T) {
	a := syntheticArtifacts()
	for _, r := range catalog(false) {
		dirs := map[string]entry{}
		for _, l := range r.Layers {
			if l == layerNginx {
				continue // needs the real packages; checked in TestBuiltImages
			}
			es, err := layerEntries(l, a)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			norm, err := normalize(es)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			for _, e := range norm {
				if e.Kind != kindDir {
					continue
				}
				if prev, ok := dirs[e.Path]; ok && (prev.Mode != e.Mode || prev.UID != e.UID || prev.GID != e.GID) {
					t.Errorf("%s: layer %s redeclares %s as %o %d:%d (was %o %d:%d)", r.ID, l, e.Path, e.Mode, e.UID, e.GID, prev.Mode, prev.UID, prev.GID)
				}
				dirs[e.Path] = e
			}
		}
	}
}

func syntheticArtifacts() *artifacts {
	files := map[string][]byte{}
	for _, f := range imageFiles() {
		files[f] = []byte("content of " + f + "\n")
	}
	files["nginx/nginx.conf.in"] = []byte("listen @PORT@;\n")
	return &artifacts{
		Busybox: &busybox{Binary: []byte("BB"), Applets: requiredApplets()},
		Pause:   []byte("PAUSE"),
		NNP:     []byte("NNP"),
		Files:   files,
	}
}

func TestPredefinedGroupEntries(t *testing.T) {
	a := syntheticArtifacts()
	a.Files["rootfs/passwd"] = []byte("root:x:0:0:root:/root:/bin/sh")
	a.Files["rootfs/group"] = []byte("root:x:0:\n")
	es, err := predefinedGroupEntries(a)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]entry{}
	for _, e := range es {
		got[e.Path] = e
	}
	if p := string(got["etc/passwd"].Data); p != "root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n" {
		t.Errorf("passwd:\n%s", p)
	}
	if g := string(got["etc/group"].Data); g != "root:x:0:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n" {
		t.Errorf("group:\n%s", g)
	}
	if h := got["home/default-user"]; h.Kind != kindDir || h.UID != 1000 || h.GID != 1000 {
		t.Errorf("home = %+v", h)
	}
}

func TestNginxConfEntries(t *testing.T) {
	a := syntheticArtifacts()
	es, err := nginxConfEntries(a, 12003)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || string(es[0].Data) != "listen 12003;\n" || es[0].Path != "etc/nginx/nginx.conf" {
		t.Fatalf("entries %+v", es)
	}
	a.Files["nginx/nginx.conf.in"] = []byte("listen 80;\n")
	if _, err := nginxConfEntries(a, 80); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("template without @PORT@: err = %v", err)
	}
}
