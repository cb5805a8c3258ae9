package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// mirroredHosts are the registries whose references the loopback registry
// serves (with the host dropped); a runtime's registry-mirrors points each of
// them at it.
func mirroredHosts() []string {
	return []string{"registry.k8s.io", "gcr.io", "k8s.gcr.io", "public.ecr.aws", "docker.io", "logbook.test"}
}

// indexEntry is one reference of a layout.
type indexEntry struct {
	Ref    string
	Digest v1.Hash
}

// readIndex lists the references of an OCI layout in index order.
func readIndex(dir string) ([]indexEntry, error) {
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []indexEntry
	for _, d := range im.Manifests {
		ref := d.Annotations[annotationRefName]
		if ref == "" {
			continue
		}
		out = append(out, indexEntry{Ref: ref, Digest: d.Digest})
	}
	return out, nil
}

// pushItem is one tag to create in the registry.
type pushItem struct {
	Repo   string // repository:tag, without a host
	Digest v1.Hash
}

// servePlan maps a layout's references onto registry tags. Two references
// with the same path on different hosts are fine if they are one manifest
// (registry.k8s.io/pause:3.9 and k8s.gcr.io/pause:3.9) and an error if not.
func servePlan(entries []indexEntry) ([]pushItem, error) {
	seen := map[string]indexEntry{}
	var out []pushItem
	for _, e := range entries {
		p, err := repoPath(e.Ref)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[p]; ok {
			if prev.Digest != e.Digest {
				return nil, fmt.Errorf("%w: %s is %s (%s) and %s (%s)", ErrRepoConflict, p, prev.Ref, prev.Digest, e.Ref, e.Digest)
			}
			continue
		}
		seen[p] = e
		out = append(out, pushItem{Repo: p, Digest: e.Digest})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Repo < out[j].Repo })
	return out, nil
}

// checkLoopback accepts only addresses on a loopback interface: this
// registry serves test images to the tests of this machine and nobody else.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
}

// layoutBlobs serves the blobs of an OCI layout, read-only, to the registry:
// the layout is the registry's blob store, so starting it copies nothing and
// only the manifests are pushed. Every repository sees every blob.
type layoutBlobs struct{ dir string }

var (
	_ registry.BlobHandler     = layoutBlobs{}
	_ registry.BlobStatHandler = layoutBlobs{}
)

func (b layoutBlobs) path(h v1.Hash) string {
	return filepath.Join(b.dir, "blobs", h.Algorithm, h.Hex)
}

func (b layoutBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(b.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return f, err
}

func (b layoutBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(b.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// server is a running loopback registry. Its one goroutine is the HTTP
// server's; Close stops it and waits for it.
type server struct {
	Addr string // host:port it listens on
	srv  *http.Server
	done chan error
}

// startServer listens on addr (loopback only), serves the layout's blobs and
// pushes a manifest for every reference of the layout. When it returns
// without error every image can be pulled.
func startServer(ctx context.Context, log *slog.Logger, layoutDir, addr string) (*server, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	entries, err := readIndex(layoutDir)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", layoutDir, err)
	}
	plan, err := servePlan(entries)
	if err != nil {
		return nil, err
	}
	lp, err := layout.FromPath(layoutDir)
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	handler := registry.New(
		registry.WithBlobHandler(layoutBlobs{dir: layoutDir}),
		registry.Logger(slog.NewLogLogger(log.Handler(), slog.LevelDebug)),
	)
	s := &server{
		Addr: ln.Addr().String(),
		srv:  &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()

	for _, item := range plan {
		if err := pushManifest(ctx, lp, s.Addr, item); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	log.Info("registry ready", "addr", s.Addr, "tags", len(plan))
	return s, nil
}

func pushManifest(ctx context.Context, lp layout.Path, addr string, item pushItem) error {
	img, err := lp.Image(item.Digest)
	if err != nil {
		return fmt.Errorf("%s: %w", item.Repo, err)
	}
	tag, err := name.NewTag(addr+"/"+item.Repo, name.Insecure, name.StrictValidation)
	if err != nil {
		return err
	}
	if err := remote.Put(tag, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", item.Repo, err)
	}
	return nil
}

// Close stops the server, letting requests in flight finish for a while.
func (s *server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	serr := s.srv.Shutdown(ctx)
	if err := <-s.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return serr
}

// writeFileAtomically writes data to path through a rename, so a reader
// polling for path never sees it half-written.
func writeFileAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
