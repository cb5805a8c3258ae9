package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// testCache is the cache the tests build from: they never download, so it
// must already hold the pinned inputs (`go run ./testdata/testimages fetch`).
func testCache() string {
	if c := os.Getenv(cacheEnv); c != "" {
		return c
	}
	return defaultCache
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// buildForTest builds every image into out, offline. Missing inputs skip
// the test: downloading is not a test's business.
func buildForTest(t testing.TB, out string) []builtImage {
	t.Helper()
	repo, err := findRepo("")
	if err != nil {
		t.Fatal(err)
	}
	built, err := build(context.Background(), testLogger(t), buildOptions{
		Repo: repo, Cache: testCache(), Out: out, Offline: true,
	})
	if errors.Is(err, ErrInputMissing) {
		t.Skipf("the image inputs are not cached in %s (run `go run ./testdata/testimages fetch` once with network): %v", testCache(), err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return built
}

// imageByRef opens the image a layout holds under ref.
func imageByRef(t *testing.T, dir, ref string) v1.Image {
	t.Helper()
	entries, err := readIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Ref == ref {
			img, err := lp.Image(e.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("%s is not in the layout", ref)
	return nil
}

// tarEntry is a layer entry with its content.
type tarEntry struct {
	Header *tar.Header
	Data   []byte
}

// layerFiles reads one layer of an image into a map by path (no trailing
// slash).
func layerFiles(t *testing.T, l v1.Layer) map[string]tarEntry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]tarEntry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(h.Name, "/")] = tarEntry{Header: h, Data: data}
	}
}

func imageLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// TestBuild builds the whole catalogue once and checks it from every side;
// the subtests share that build.
func TestBuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	built := buildForTest(t, dir)

	t.Run("Reproducible", func(t *testing.T) {
		again := filepath.Join(t.TempDir(), "layout")
		buildForTest(t, again)
		a, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(again, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("two builds wrote different index.json:\n%s\n---\n%s", a, b)
		}
		blobsA, blobsB := blobNames(t, dir), blobNames(t, again)
		if strings.Join(blobsA, " ") != strings.Join(blobsB, " ") {
			t.Fatalf("two builds wrote different blobs:\n%v\n%v", blobsA, blobsB)
		}
	})

	t.Run("ListPrintsEveryReference", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"list", "--layout", dir}, &out, &errOut); err != nil {
			t.Fatalf("list: %v: %s", err, errOut.String())
		}
		got := strings.Fields(out.String())
		want := wantRefs()
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("list printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("OnlyAliasesShareIDs", func(t *testing.T) {
		ids := map[string][]string{}
		manifests := map[string][]string{}
		for _, ref := range wantRefs() {
			img := imageByRef(t, dir, ref)
			id, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			ids[id.String()] = append(ids[id.String()], ref)
			manifests[d.String()] = append(manifests[d.String()], ref)
		}
		var shared []string
		for _, refs := range ids {
			if len(refs) > 1 {
				shared = append(shared, strings.Join(refs, " "))
			}
		}
		sort.Strings(shared)
		var want []string
		for _, g := range wantAliases() {
			want = append(want, strings.Join(g, " "))
		}
		sort.Strings(want)
		if strings.Join(shared, "\n") != strings.Join(want, "\n") {
			t.Fatalf("references sharing an image ID:\n%s\nwant:\n%s", strings.Join(shared, "\n"), strings.Join(want, "\n"))
		}
		if len(manifests) != len(ids) {
			t.Fatalf("%d manifests for %d image IDs", len(manifests), len(ids))
		}
		if len(built) != len(ids) {
			t.Fatalf("build reported %d images, the layout has %d IDs", len(built), len(ids))
		}
	})

	t.Run("Configs", func(t *testing.T) {
		for _, r := range catalog(false) {
			img := imageByRef(t, dir, r.Refs[0])
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Config.Labels[labelRef] != r.ID || cf.OS != "linux" || cf.Architecture != "amd64" ||
				!cf.Created.Time.Equal(sourceEpoch()) || len(cf.Config.Env) == 0 || cf.Config.Env[0] != defaultPath {
				t.Errorf("%s: config %+v", r.ID, cf)
			}
			if len(cf.History) != len(r.Layers) || len(cf.RootFS.DiffIDs) != len(r.Layers) {
				t.Errorf("%s: %d history entries, %d diff IDs, %d layers", r.ID, len(cf.History), len(cf.RootFS.DiffIDs), len(r.Layers))
			}
			if strings.Join(cf.Config.Cmd, " ") != strings.Join(r.Config.Cmd, " ") || cf.Config.User != r.Config.User ||
				strings.Join(cf.Config.Entrypoint, " ") != strings.Join(r.Config.Entrypoint, " ") {
				t.Errorf("%s: config %+v, recipe %+v", r.ID, cf.Config, r.Config)
			}
		}
	})

	t.Run("BusyboxLayerHasHardLinkedApplets", func(t *testing.T) {
		img := imageByRef(t, dir, "registry.k8s.io/e2e-test-images/busybox:1.29-2")
		ls := imageLayers(t, img)
		if len(ls) != 1 {
			t.Fatalf("%d layers", len(ls))
		}
		files := layerFiles(t, ls[0])
		// Every applet is /bin/<name>, one inode with /bin/busybox.
		var inode string
		for p, e := range files {
			if !strings.HasPrefix(p, "bin/") {
				continue
			}
			switch e.Header.Typeflag {
			case tar.TypeReg:
				if inode != "" {
					t.Fatalf("two regular files in /bin: %s and %s", inode, p)
				}
				inode = p
			case tar.TypeLink:
			default:
				t.Errorf("/%s is of type %c, want a hard link", p, e.Header.Typeflag)
			}
		}
		for _, a := range append(requiredApplets(), "busybox") {
			e, ok := files["bin/"+a]
			if !ok {
				t.Errorf("/bin/%s missing", a)
				continue
			}
			if p := "bin/" + a; p != inode && (e.Header.Typeflag != tar.TypeLink || e.Header.Linkname != inode) {
				t.Errorf("/bin/%s: type %c link %q, want a hard link to %s", a, e.Header.Typeflag, e.Header.Linkname, inode)
			}
		}
		bin := files[inode]
		if bin.Header.Mode != 0o755 || len(bin.Data) < 1<<20 {
			t.Errorf("busybox: mode %o, %d bytes", bin.Header.Mode, len(bin.Data))
		}
		if interp, needed, err := readELFDeps(bin.Data); err != nil || interp != "" || len(needed) != 0 {
			t.Errorf("busybox is not static: interp %q needed %v err %v", interp, needed, err)
		}
		// The configuration it was built with is cached beside it.
		if cfg := cachedBusyboxConfig(t, bin.Data); cfg != "" {
			if err := checkKconfig(cfg, busyboxSettings()); err != nil {
				t.Error(err)
			}
		} else {
			t.Error("the busybox of the layer is not in the cache")
		}

		if !strings.Contains(string(files["etc/passwd"].Data), "\nnobody:x:65534:65534:") {
			t.Errorf("/etc/passwd lacks nobody:\n%s", files["etc/passwd"].Data)
		}
		if _, ok := files["etc/group"]; !ok {
			t.Error("/etc/group missing")
		}
		for p, mode := range map[string]int64{"tmp": 0o1777, "var": 0o755, "root": 0o700} {
			if e, ok := files[p]; !ok || e.Header.Typeflag != tar.TypeDir || e.Header.Mode != mode {
				t.Errorf("/%s: %+v, want a directory of mode %o", p, e.Header, mode)
			}
		}
		for p, e := range files {
			if e.Header.Uid != 0 || e.Header.Gid != 0 {
				t.Errorf("/%s owned %d:%d", p, e.Header.Uid, e.Header.Gid)
			}
		}
	})

	t.Run("NNPIsSetuidRoot", func(t *testing.T) {
		img := imageByRef(t, dir, "registry.k8s.io/e2e-test-images/nonewprivs:1.3")
		ls := imageLayers(t, img)
		files := layerFiles(t, ls[len(ls)-1])
		e, ok := files["usr/local/bin/nnp"]
		if !ok {
			t.Fatal("/usr/local/bin/nnp missing")
		}
		if e.Header.Typeflag != tar.TypeReg || e.Header.Mode != 0o4755 || e.Header.Uid != 0 || e.Header.Gid != 0 {
			t.Fatalf("nnp: type %c mode %o owner %d:%d, want a file 04755 0:0", e.Header.Typeflag, e.Header.Mode, e.Header.Uid, e.Header.Gid)
		}
		if interp, needed, err := readELFDeps(e.Data); err != nil || interp != "" || len(needed) != 0 {
			t.Fatalf("nnp is not static: interp %q needed %v err %v", interp, needed, err)
		}
	})

	t.Run("PauseImagesAreOneImage", func(t *testing.T) {
		a := imageByRef(t, dir, "registry.k8s.io/pause:3.9")
		b := imageByRef(t, dir, "k8s.gcr.io/pause:3.9")
		ra, err := a.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ra, rb) {
			t.Fatal("the two pause names hold different manifests")
		}
		ls := imageLayers(t, a)
		if len(ls) != 1 {
			t.Fatalf("%d layers", len(ls))
		}
		files := layerFiles(t, ls[0])
		if len(files) != 1 {
			t.Errorf("pause layer holds %d entries, want /pause alone", len(files))
		}
		// /pause is cmd/logbook-pause/pause.c, compiled again here: the C
		// build is reproducible too.
		repo, err := findRepo("")
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := buildPause(context.Background(), repo, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if p := files["pause"]; !bytes.Equal(p.Data, fresh) || p.Header.Mode != 0o755 {
			t.Fatalf("/pause: mode %o, %d bytes; a fresh build has %d bytes", p.Header.Mode, len(p.Data), len(fresh))
		}
	})

	t.Run("NginxLayer", func(t *testing.T) {
		img := imageByRef(t, dir, "registry.k8s.io/e2e-test-images/nginx:1.14-2")
		ls := imageLayers(t, img)
		if len(ls) != 3 {
			t.Fatalf("%d layers", len(ls))
		}
		base, nginx := layerFiles(t, ls[0]), layerFiles(t, ls[1])
		for _, p := range []string{"usr/sbin/nginx", "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6",
			"usr/lib/x86_64-linux-gnu/libssl.so.3", "usr/lib/x86_64-linux-gnu/libcrypto.so.3", "etc/nginx/mime.types"} {
			if _, ok := nginx[p]; !ok {
				t.Errorf("/%s missing", p)
			}
		}
		for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
			e := nginx["var/lib/nginx/"+d]
			if e.Header == nil || e.Header.Uid != uidWWWData || e.Header.Mode != 0o700 {
				t.Errorf("/var/lib/nginx/%s: %+v", d, e.Header)
			}
		}
		// Directories both layers declare keep the base's metadata.
		for p, e := range nginx {
			if b, ok := base[p]; ok && e.Header.Typeflag == tar.TypeDir &&
				(b.Header.Mode != e.Header.Mode || b.Header.Uid != e.Header.Uid || b.Header.Gid != e.Header.Gid) {
				t.Errorf("/%s: mode %o %d:%d over the base's %o %d:%d", p, e.Header.Mode, e.Header.Uid, e.Header.Gid, b.Header.Mode, b.Header.Uid, b.Header.Gid)
			}
		}
		conf := layerFiles(t, ls[2])["etc/nginx/nginx.conf"]
		for _, want := range []string{"user www-data;", "pid /var/run/nginx.pid;", "error_log stderr;", "listen 80 "} {
			if !strings.Contains(string(conf.Data), want) {
				t.Errorf("nginx.conf lacks %q:\n%s", want, conf.Data)
			}
		}
	})

	t.Run("PredefinedGroup", func(t *testing.T) {
		img := imageByRef(t, dir, "gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest")
		ls := imageLayers(t, img)
		files := layerFiles(t, ls[len(ls)-1])
		if !strings.Contains(string(files["etc/passwd"].Data), "\ndefault-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n") {
			t.Errorf("/etc/passwd:\n%s", files["etc/passwd"].Data)
		}
		group := string(files["etc/group"].Data)
		if !strings.Contains(group, "\ndefault-user:x:1000:\n") || !strings.Contains(group, "\ngroup-defined-in-image:x:50000:default-user\n") {
			t.Errorf("/etc/group:\n%s", group)
		}
	})

	t.Run("Serve", func(t *testing.T) { testServe(t, dir) })
	t.Run("Containers", func(t *testing.T) { testContainers(t, dir) })
}

// blobNames lists the blobs of a layout.
func blobNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// cachedBusyboxConfig returns the .config of the cached build whose binary
// is bin, or "".
func cachedBusyboxConfig(t *testing.T, bin []byte) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(testCache(), "busybox", "*"))
	for _, d := range dirs {
		bb, err := loadBusybox(d)
		if err == nil && bytes.Equal(bb.Binary, bin) {
			return bb.Config
		}
	}
	return ""
}

// BenchmarkBuildWarm measures a rebuild of the whole catalogue from a warm
// cache (busybox already built): reading the packages, compiling the pause
// and the probe, composing and writing every layer.
func BenchmarkBuildWarm(b *testing.B) {
	buildForTest(b, filepath.Join(b.TempDir(), "warmup"))
	for b.Loop() {
		buildForTest(b, filepath.Join(b.TempDir(), "layout"))
	}
}
