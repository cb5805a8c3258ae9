package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Pulled describes a pulled image, with the fields the image service
// journals (journal/events.ImagePulled and ImageTagged).
//
// A Pulled holds a lease on its content: GC keeps it until Release, so the
// caller can journal the image before GC may see it as unreferenced.
type Pulled struct {
	// ID is the config digest, "sha256:...": the CRI image ID.
	ID string
	// ManifestDigest is what the reference resolved to: the manifest, or
	// the index when the tag names a multi-platform image.
	ManifestDigest string
	// Name is the normalised reference as requested: "<repo>:<tag>" or
	// "<repo>@<digest>", whichever endpoint served it.
	Name string
	// RepoDigest is "<repo>@<ManifestDigest>".
	RepoDigest string
	// Size is the sum of the compressed layer sizes and the config size.
	Size int64
	// Config is the image config JSON as stored; see ParseConfig.
	Config []byte
	// ChainIDs are the layers' chain IDs, bottom first; see Lowers.
	ChainIDs []string
	// Annotations are the image manifest's.
	Annotations map[string]string

	release func()
	once    sync.Once
}

// Release ends the lease of a Pulled. It is idempotent.
func (p *Pulled) Release() {
	p.once.Do(func() {
		if p.release != nil {
			p.release()
		}
	})
}

// pullResult is the shared outcome of a pull in flight; each caller gets
// its own copy of the Pulled with its own lease.
type pullResult struct {
	pulled *Pulled
	lease  *lease // the work's lease, released when the last caller has its own
}

func (r *pullResult) forCaller(s *Store) *Pulled {
	l := s.newLease()
	s.hold(l, keys(r.lease.blobs), keys(r.lease.snaps))
	p := r.pulled
	return &Pulled{
		ID:             p.ID,
		ManifestDigest: p.ManifestDigest,
		Name:           p.Name,
		RepoDigest:     p.RepoDigest,
		Size:           p.Size,
		Config:         append([]byte(nil), p.Config...),
		ChainIDs:       append([]string(nil), p.ChainIDs...),
		Annotations:    maps.Clone(p.Annotations),
		release:        func() { s.release(l) },
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Pull resolves ref at the registry (through the configured mirrors), and
// makes sure the image's manifest, config and layer blobs are in the store
// and its layers unpacked into snapshots, fetching only what is missing.
// It always asks the registry: a tag is resolved anew on every call.
// Concurrent pulls of the same reference with the same credentials share
// one pull.
//
// Every error wraps one class of errors.go (ErrInvalidReference,
// ErrInvalidAuth, ErrInvalidImage, ErrNotFound, ErrUnauthenticated,
// ErrUnavailable, ErrDeadlineExceeded, ErrCanceled, ErrStorage). The
// caller must Release the result.
func (s *Store) Pull(ctx context.Context, ref string, auth *Auth) (*Pulled, error) {
	r, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	an, err := auth.authenticator()
	if err != nil {
		return nil, err
	}
	var mine *Pulled
	_, err = s.pulls.Do(ctx, r.String()+"\x00"+auth.fingerprint(),
		func(wctx context.Context) (*pullResult, error) { return s.pull(wctx, r, an) },
		func(res *pullResult) { mine = res.forCaller(s) })
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(ctx)
		}
		return nil, err
	}
	return mine, nil
}

// fingerprint tells credentials apart without keeping them in a map key.
func (a *Auth) fingerprint() string {
	if a.empty() {
		return ""
	}
	sum := sha256.Sum256([]byte(a.Username + "\x00" + a.Password + "\x00" + a.Auth + "\x00" + a.IdentityToken + "\x00" + a.RegistryToken))
	return hex.EncodeToString(sum[:])
}

// pull is the work of one pull, shared by its callers.
func (s *Store) pull(ctx context.Context, r Reference, auth authn.Authenticator) (res *pullResult, err error) {
	start := time.Now()
	l := s.newLease()
	defer func() {
		if err != nil {
			s.release(l)
		}
		took := time.Since(start)
		s.metrics.PullDone(Outcome(err), took)
		if err != nil {
			s.log.Info("pull failed", "ref", r.String(), "outcome", Outcome(err), "err", err, "took", took)
		}
	}()

	se, top, err := s.resolve(ctx, r, auth)
	if err != nil {
		return nil, err
	}
	p := &Pulled{Name: r.String(), ManifestDigest: top.digest, RepoDigest: r.Repository() + "@" + top.digest}
	s.log.Debug("resolved", "ref", r.String(), "digest", top.digest, "endpoint", se.ep.String())

	m, err := s.platformManifest(ctx, se, l, top)
	if err != nil {
		return nil, err
	}
	if err := m.checkImage(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidImage, err)
	}
	blobs := []string{m.Config.Digest}
	for _, ld := range m.Layers {
		blobs = append(blobs, ld.Digest)
	}
	s.hold(l, blobs, nil)

	if err := s.ensureBlob(ctx, se, m.Config); err != nil {
		return nil, err
	}
	raw, err := s.readBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	if len(cfg.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%w: the config names %d layers, the manifest %d", ErrInvalidImage, len(cfg.DiffIDs), len(m.Layers))
	}
	if cfg.OS != "" && cfg.Architecture != "" && !s.platform.matches(Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}) {
		return nil, fmt.Errorf("%w: image is for %s/%s, this node is %s", ErrNotFound, cfg.OS, cfg.Architecture, s.platform)
	}
	chain := ChainIDs(cfg.DiffIDs)
	s.hold(l, nil, chain)

	if err := s.fetchLayers(ctx, se, m.Layers, cfg.DiffIDs, chain); err != nil {
		return nil, err
	}

	p.ID = m.Config.Digest
	p.Config = raw
	p.ChainIDs = chain
	p.Annotations = m.Annotations
	p.Size = m.Config.Size
	for _, ld := range m.Layers {
		p.Size += ld.Size
	}
	s.log.Info("pulled", "ref", p.Name, "id", p.ID, "digest", p.ManifestDigest, "endpoint", se.ep.String(),
		"layers", len(chain), "size", p.Size, "took", time.Since(start))
	return &pullResult{pulled: p, lease: l}, nil
}

// resolve asks each endpoint in turn for the reference's manifest and
// returns the first that answers with one. When none does, the error is
// the first real answer (not found, unauthenticated, invalid), else the
// last failure to get one.
func (s *Store) resolve(ctx context.Context, r Reference, auth authn.Authenticator) (*session, *fetched, error) {
	var answer, last error
	for _, ep := range endpointsFor(s.mirrors, r.Domain) {
		se, err := s.connect(ctx, ep, r, auth)
		var top *fetched
		if err == nil {
			top, err = se.manifest(ctx, r.identifier())
		}
		if err == nil {
			return se, top, nil
		}
		if errIs(err, ErrDeadlineExceeded, ErrCanceled, ErrClosed) {
			return nil, nil, err
		}
		s.log.Debug("endpoint failed", "ref", r.String(), "endpoint", ep.String(), "err", err)
		err = fmt.Errorf("%s: %w", ep, err)
		if answer == nil && !errors.Is(err, ErrUnavailable) {
			answer = err
		}
		last = err
	}
	if answer != nil {
		return nil, nil, answer
	}
	return nil, nil, last
}

// platformManifest stores the fetched manifest and, while it is an index,
// follows it to the entry for the store's platform; it returns the image
// manifest.
func (s *Store) platformManifest(ctx context.Context, se *session, l *lease, f *fetched) (*manifest, error) {
	for depth := 0; ; depth++ {
		m, err := parseManifest(f.data, f.mediaType)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidImage, f.digest, err)
		}
		s.hold(l, []string{f.digest}, nil)
		if err := s.putBlob(f.digest, f.data); err != nil {
			return nil, err
		}
		if !m.isIndex() {
			return m, nil
		}
		if depth >= maxIndexDepth {
			return nil, fmt.Errorf("%w: indexes nested deeper than %d", ErrInvalidImage, maxIndexDepth)
		}
		child, err := m.selectPlatform(s.platform)
		if err != nil {
			return nil, err
		}
		if f, err = se.manifest(ctx, child.Digest); err != nil {
			return nil, err
		}
		if f.digest != child.Digest {
			return nil, fmt.Errorf("%w: manifest %s hashes to %s", ErrDigestMismatch, child.Digest, f.digest)
		}
	}
}

// ensureBlob makes sure a blob is in the store, downloading it once for
// all concurrent pulls that need it. The blob must be held in a lease.
func (s *Store) ensureBlob(ctx context.Context, se *session, d descriptor) error {
	if s.hasBlob(d.Digest) {
		return nil
	}
	_, err := s.blobs.Do(ctx, d.Digest, func(wctx context.Context) (struct{}, error) {
		if s.hasBlob(d.Digest) {
			return struct{}{}, nil
		}
		return struct{}{}, s.download(wctx, se, d)
	}, nil)
	if err != nil && ctx.Err() != nil {
		return ctxError(ctx)
	}
	return err
}

// download fetches one blob into the store, reporting progress, and
// aborting when nothing arrives for the progress timeout.
func (s *Store) download(ctx context.Context, se *session, d descriptor) error {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("%w: no data for %s", ErrUnavailable, s.progress)
	watchdog := time.AfterFunc(s.progress, func() { cancel(stalled) })
	defer watchdog.Stop()

	body, err := se.blob(ctx, d.Digest)
	if err != nil {
		return s.downloadError(ctx, stalled, err)
	}
	defer body.Close()
	pr := &progressReader{r: body, s: s, digest: d.Digest, total: d.Size, watchdog: watchdog, every: s.progress, start: start, lastLog: start}
	if err := s.writeBlob(d.Digest, d.Size, pr); err != nil {
		var src *sourceError
		if errors.As(err, &src) {
			return s.downloadError(ctx, stalled, classifyRemote(ctx, src.err, false))
		}
		return err
	}
	s.log.Debug("blob fetched", "digest", d.Digest, "bytes", d.Size, "took", time.Since(start), "endpoint", se.ep.String())
	return nil
}

func (s *Store) downloadError(ctx context.Context, stalled, err error) error {
	if context.Cause(ctx) == stalled {
		return stalled
	}
	return err
}

// progressReader feeds the metrics and the watchdog, and logs a slow
// layer's progress every few seconds.
type progressReader struct {
	r        io.Reader
	s        *Store
	digest   string
	total    int64
	done     int64
	watchdog *time.Timer
	every    time.Duration
	start    time.Time
	lastLog  time.Time
}

const progressLogEvery = 5 * time.Second

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.done += int64(n)
		p.s.metrics.BlobBytes(n)
		p.watchdog.Reset(p.every)
		if now := time.Now(); now.Sub(p.lastLog) >= progressLogEvery {
			p.lastLog = now
			p.s.log.Info("pulling blob", "digest", p.digest, "bytes", p.done, "total", p.total, "elapsed", now.Sub(p.start).Round(time.Second))
		}
	}
	return n, err
}

// fetchLayers downloads the missing layer blobs, a few at a time and bottom
// first, while unpacking the missing snapshots in order as their blobs
// arrive (a layer's hard links may need the snapshots below it).
func (s *Store) fetchLayers(ctx context.Context, se *session, layers []descriptor, diffIDs, chain []string) error {
	n := len(layers)
	done := make([]chan struct{}, n)
	errs := make([]error, n)
	jobs := make(chan int, n)
	for i := range layers {
		done[i] = make(chan struct{})
		jobs <- i
	}
	close(jobs)

	dctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for w := 0; w < min(s.concurrency, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := dctx.Err(); err != nil {
					errs[i] = ctxError(dctx)
				} else {
					errs[i] = s.ensureBlob(dctx, se, layers[i])
				}
				close(done[i])
			}
		}()
	}

	for i := range layers {
		<-done[i]
		if errs[i] != nil {
			return errs[i]
		}
		job := layerJob{blob: layers[i].Digest, diffID: diffIDs[i], chainID: chain[i]}
		if i > 0 {
			job.parent = chain[i-1]
			for j := i - 1; j >= 0; j-- {
				job.lowers = append(job.lowers, filepath.Join(s.snapshotDir(chain[j]), "fs"))
			}
		}
		if err := s.ensureSnapshot(ctx, job); err != nil {
			return err
		}
	}
	return nil
}

// ensureSnapshot unpacks a layer unless its snapshot exists, once for all
// concurrent pulls that need it. The snapshot must be held in a lease.
func (s *Store) ensureSnapshot(ctx context.Context, job layerJob) error {
	if s.hasSnapshot(job.chainID) {
		return nil
	}
	_, err := s.snaps.Do(ctx, job.chainID, func(wctx context.Context) (struct{}, error) {
		if s.hasSnapshot(job.chainID) {
			return struct{}{}, nil
		}
		return struct{}{}, s.unpackLayer(wctx, job)
	}, nil)
	if err != nil && ctx.Err() != nil {
		return ctxError(ctx)
	}
	return err
}
