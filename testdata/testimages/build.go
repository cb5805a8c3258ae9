package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// sourceEpochUnix is the one point in time every build writes (2024-01-01
// UTC): layer mtimes, config and history creation times, SOURCE_DATE_EPOCH.
const sourceEpochUnix = 1704067200

func sourceEpoch() time.Time { return time.Unix(sourceEpochUnix, 0).UTC() }

// Annotations of every manifest descriptor in the layout's index.json: the
// full reference, under the OCI key and under the key containerd imports by.
const (
	annotationRefName    = "org.opencontainers.image.ref.name"
	annotationContainerd = "io.containerd.image.name"
)

// buildOptions are the inputs of one build.
type buildOptions struct {
	Repo    string // logbook source tree
	Cache   string // cache directory
	Out     string // OCI layout to (re)write
	Bench   bool   // also build the pull benchmark image
	Offline bool   // never download
	Mirror  string // Debian mirror replacing deb.debian.org, or ""
}

// builtImage is one image of the layout.
type builtImage struct {
	Recipe   recipe
	Manifest v1.Hash
	ConfigID v1.Hash // the image ID a runtime reports
	Size     int64   // manifest + config + compressed layers
}

// build produces the layout: it makes sure every input is in the cache,
// builds what has to be built, and writes all images. The cache is locked for
// the whole build, so concurrent builds wait rather than race.
func build(ctx context.Context, log *slog.Logger, opts buildOptions) ([]builtImage, error) {
	start := time.Now()
	unlock, err := lockCache(opts.Cache)
	if err != nil {
		return nil, err
	}
	defer unlock()

	recipes := catalog(opts.Bench)
	if err := checkRepoPaths(recipes); err != nil {
		return nil, err
	}
	lock, err := os.ReadFile(filepath.Join(opts.Repo, "testdata", "images", "inputs.lock"))
	if err != nil {
		return nil, err
	}
	pinned, err := parseLock(bytes.NewReader(lock))
	if err != nil {
		return nil, err
	}
	store := &inputStore{dir: filepath.Join(opts.Cache, "downloads"), offline: opts.Offline,
		mirror: opts.Mirror, client: newHTTPClient(), log: log}
	paths, err := fetchAll(ctx, store, pinned, inputsFor(recipes))
	if err != nil {
		return nil, err
	}

	a := &artifacts{Files: map[string][]byte{}, Debs: fsIndex{}}
	for _, name := range imageFiles() {
		b, err := os.ReadFile(filepath.Join(opts.Repo, "testdata", "images", filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		a.Files[name] = b
	}
	bb := &busyboxBuilder{dir: filepath.Join(opts.Cache, "busybox"), epoch: sourceEpochUnix, log: log}
	if a.Busybox, err = bb.ensure(ctx, paths["busybox-orig"], paths["busybox-debian"],
		pinned["busybox-orig"], pinned["busybox-debian"]); err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp(opts.Cache, ".scratch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	if a.Pause, err = buildPause(ctx, opts.Repo, scratch); err != nil {
		return nil, err
	}
	if a.NNP, err = buildNNP(ctx, opts.Repo, scratch); err != nil {
		return nil, err
	}
	for _, pkg := range nginxPackages() {
		if err := readDeb(ctx, paths[pkg], a.Debs); err != nil {
			return nil, err
		}
	}
	log.Debug("inputs ready", "elapsed", time.Since(start).Round(time.Millisecond))

	images, err := composeImages(recipes, a)
	if err != nil {
		return nil, err
	}
	built, err := writeLayoutAtomically(opts.Out, images)
	if err != nil {
		return nil, err
	}
	log.Info("layout written", "out", opts.Out, "images", len(built), "elapsed", time.Since(start).Round(time.Millisecond))
	return built, nil
}

// fetchAll makes sure the named inputs are in the cache and returns their
// paths.
func fetchAll(ctx context.Context, store *inputStore, pinned pins, names []string) (map[string]string, error) {
	paths := map[string]string{}
	for _, name := range names {
		in, err := pinned.get(name)
		if err != nil {
			return nil, err
		}
		p, err := store.path(ctx, in)
		if err != nil {
			return nil, err
		}
		paths[name] = p
	}
	return paths, nil
}

// checkRepoPaths refuses a catalogue in which two recipes would be served
// under one repository tag once the registry host is dropped.
func checkRepoPaths(recipes []recipe) error {
	owner := map[string]string{}
	ids := map[string]bool{}
	for _, r := range recipes {
		if ids[r.ID] {
			return fmt.Errorf("%w: recipe id %s used twice", ErrRepoConflict, r.ID)
		}
		ids[r.ID] = true
		for _, ref := range r.Refs {
			p, err := repoPath(ref)
			if err != nil {
				return err
			}
			if o, ok := owner[p]; ok && o != r.ID {
				return fmt.Errorf("%w: %s is both %s and %s", ErrRepoConflict, p, o, r.ID)
			}
			owner[p] = r.ID
		}
	}
	return nil
}

// composedImage is a recipe with its image, before it is written.
type composedImage struct {
	Recipe recipe
	Image  v1.Image
}

// composeImages builds each distinct layer once and stacks them per recipe.
func composeImages(recipes []recipe, a *artifacts) ([]composedImage, error) {
	layers := map[string]v1.Layer{}
	var out []composedImage
	for _, r := range recipes {
		for _, name := range r.Layers {
			if _, ok := layers[name]; ok {
				continue
			}
			entries, err := layerEntries(name, a)
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", name, err)
			}
			level := gzip.DefaultCompression
			if strings.HasPrefix(name, benchPrefix) {
				level = gzip.BestSpeed // incompressible anyway
			}
			gz, err := gzipLayer(entries, sourceEpoch(), level)
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", name, err)
			}
			l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(gz)), nil
			}, tarball.WithMediaType(types.OCILayer))
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", name, err)
			}
			layers[name] = l
		}
		img, err := assemble(r, layers)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r.ID, err)
		}
		out = append(out, composedImage{Recipe: r, Image: img})
	}
	return out, nil
}

// assemble stacks a recipe's layers into an OCI image with a fixed creation
// time and the recipe's identity label.
func assemble(r recipe, layers map[string]v1.Layer) (v1.Image, error) {
	created := v1.Time{Time: sourceEpoch()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for _, name := range r.Layers {
		adds = append(adds, mutate.Addendum{
			Layer:     layers[name],
			MediaType: types.OCILayer,
			History:   v1.History{Created: created, CreatedBy: "logbook testimages: layer " + name},
		})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = created
	cf.Config = r.Config
	cf.Config.Env = append([]string{defaultPath}, r.Config.Env...)
	cf.Config.Labels = map[string]string{labelRef: r.ID}
	for k, v := range r.Config.Labels {
		cf.Config.Labels[k] = v
	}
	return mutate.ConfigFile(img, cf)
}

// writeLayoutAtomically writes the images to a fresh layout next to out and
// swaps it in, so that out is always either the old or the new layout.
func writeLayoutAtomically(out string, images []composedImage) ([]builtImage, error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".new-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	built, err := writeLayout(tmp, images)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	old := tmp + ".old"
	if err := os.Rename(out, old); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	return built, os.RemoveAll(old)
}

// writeLayout writes an OCI image layout: every blob once, and one index
// entry per reference, annotated with the full reference.
func writeLayout(dir string, images []composedImage) ([]builtImage, error) {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, err
	}
	var built []builtImage
	for _, ci := range images {
		if err := p.WriteImage(ci.Image); err != nil {
			return nil, fmt.Errorf("%s: %w", ci.Recipe.ID, err)
		}
		b, err := describe(ci.Recipe, ci.Image)
		if err != nil {
			return nil, err
		}
		raw, err := ci.Image.RawManifest()
		if err != nil {
			return nil, err
		}
		for _, ref := range ci.Recipe.Refs {
			// Written by hand rather than by AppendImage, which adds an
			// artifactType to plain images.
			if err := p.AppendDescriptor(v1.Descriptor{
				MediaType:   types.OCIManifestSchema1,
				Size:        int64(len(raw)),
				Digest:      b.Manifest,
				Annotations: map[string]string{annotationRefName: ref, annotationContainerd: ref},
				Platform:    &v1.Platform{OS: "linux", Architecture: "amd64"},
			}); err != nil {
				return nil, fmt.Errorf("%s: %w", ref, err)
			}
		}
		built = append(built, b)
	}
	return built, nil
}

func describe(r recipe, img v1.Image) (builtImage, error) {
	d, err := img.Digest()
	if err != nil {
		return builtImage{}, err
	}
	id, err := img.ConfigName()
	if err != nil {
		return builtImage{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return builtImage{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return builtImage{}, err
	}
	size := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return builtImage{Recipe: r, Manifest: d, ConfigID: id, Size: size}, nil
}

// buildPause compiles cmd/logbook-pause/pause.c as the Makefile does, and
// strips it: the image carries no symbols.
func buildPause(ctx context.Context, repo, scratch string) ([]byte, error) {
	out := filepath.Join(scratch, "logbook-pause")
	cmd := exec.CommandContext(ctx, "cc", "-static", "-Os", "-s", "-o", out,
		filepath.Join(repo, "cmd", "logbook-pause", "pause.c"))
	cmd.Env = append(os.Environ(), "LC_ALL=C", "SOURCE_DATE_EPOCH="+fmt.Sprint(sourceEpochUnix))
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cc pause.c: %w: %s", err, msg)
	}
	return os.ReadFile(out)
}

// buildNNP builds the setuid probe statically, in a module of its own so that
// nothing of the logbook module (its dependencies, its VCS state) reaches the
// binary.
func buildNNP(ctx context.Context, repo, scratch string) ([]byte, error) {
	src := filepath.Join(repo, "testdata", "images", "nnp")
	mod := filepath.Join(scratch, "nnp")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(mod, filepath.Base(f)), b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module logbook.test/nnp\n\ngo 1.26\n"), 0o644); err != nil {
		return nil, err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(scratch, "nnp.bin")
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, ".")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64",
		"GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "GO111MODULE=on")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build nnp: %w: %s", err, msg)
	}
	return os.ReadFile(out)
}

// lockCache takes the cache's lock file, waiting for any other build.
func lockCache(cache string) (func(), error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
