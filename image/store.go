package image

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure Open.
type Options struct {
	// Mirrors maps a registry host ("registry.k8s.io", "docker.io") to
	// endpoint URLs ("http://127.0.0.1:5000") tried in order before the
	// registry itself (always over https). Plain HTTP is used only for an
	// endpoint named here with http://.
	Mirrors map[string][]string
	// Platform selects the manifest of a manifest list; zero means
	// HostPlatform().
	Platform Platform
	Logger   *slog.Logger
	// Metrics receives measurements; nil disables them.
	Metrics Metrics
	// Transport carries registry traffic (proxies, TLS roots, dialer).
	// Nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Concurrency bounds the blobs one pull downloads at once; 0 means 3.
	Concurrency int
	// ProgressTimeout aborts a blob download that receives nothing for
	// this long (ErrUnavailable); 0 means 5 minutes.
	ProgressTimeout time.Duration
	// UsageInterval is how long Usage serves a cached measure; 0 means 5 s.
	UsageInterval time.Duration
}

// Store is the image content store: blobs by digest, layer snapshots by
// chain ID. It knows what is on disk, not which images exist: the image
// list lives in the journal's projection, and GC is told what to keep.
type Store struct {
	root      string
	blobDir   string // <root>/content/blobs/sha256
	snapDir   string // <root>/snapshots
	ingestDir string // <root>/ingest
	tmpDir    string // <root>/tmp
	lock      *os.File

	log         *slog.Logger
	metrics     Metrics
	platform    Platform
	mirrors     map[string][]endpoint
	transport   http.RoundTripper
	concurrency int
	progress    time.Duration
	usageEvery  time.Duration

	ctx    context.Context // cancelled (cause ErrClosed) by Close
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // the goroutines of flights

	pulls *group[*pullResult]
	blobs *group[struct{}]
	snaps *group[struct{}]

	// mu makes "hold in a lease, then look" (pulls) and "decide, then
	// move away" (GC) atomic with respect to each other.
	mu     sync.Mutex
	leases map[*lease]struct{} // guarded by mu

	usageMu sync.Mutex
	usage   Usage // guarded by usageMu
}

// lease names blobs (by digest) and snapshots (by chain ID) that GC must
// not remove while it exists.
type lease struct {
	blobs map[string]bool
	snaps map[string]bool
}

// Open opens (creating it if needed) the store rooted at root, removes what
// an interrupted pull left in ingest/ and tmp/, and takes an exclusive lock
// on the root for the life of the Store.
func Open(root string, opts Options) (*Store, error) {
	mirrors, err := parseMirrors(opts.Mirrors)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	s := &Store{
		root:        abs,
		blobDir:     filepath.Join(abs, "content", "blobs", "sha256"),
		snapDir:     filepath.Join(abs, "snapshots"),
		ingestDir:   filepath.Join(abs, "ingest"),
		tmpDir:      filepath.Join(abs, "tmp"),
		log:         opts.Logger,
		metrics:     opts.Metrics,
		platform:    opts.Platform,
		mirrors:     mirrors,
		transport:   opts.Transport,
		concurrency: opts.Concurrency,
		progress:    opts.ProgressTimeout,
		usageEvery:  opts.UsageInterval,
		leases:      map[*lease]struct{}{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	if s.platform == (Platform{}) {
		s.platform = HostPlatform()
	}
	if s.transport == nil {
		s.transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if s.concurrency <= 0 {
		s.concurrency = 3
	}
	if s.progress <= 0 {
		s.progress = 5 * time.Minute
	}
	if s.usageEvery <= 0 {
		s.usageEvery = 5 * time.Second
	}
	if err := s.lockRoot(); err != nil {
		return nil, err
	}
	if err := s.prepare(); err != nil {
		s.lock.Close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	spawn := func(fn func()) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			fn()
		}()
	}
	s.pulls = newGroup(s.ctx, spawn, func(r *pullResult) { s.release(r.lease) })
	s.blobs = newGroup[struct{}](s.ctx, spawn, nil)
	s.snaps = newGroup[struct{}](s.ctx, spawn, nil)
	return s, nil
}

func (s *Store) lockRoot() error {
	f, err := os.OpenFile(filepath.Join(s.root, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return fmt.Errorf("%w: %s", ErrLocked, s.root)
		}
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	s.lock = f
	return nil
}

// prepare creates the layout and removes the leftovers of a crash: every
// entry of ingest/ and tmp/ (partial blobs, half-unpacked snapshots, GC
// trash), and anything in blobs/ or snapshots/ that is not a committed
// object (which can only come from outside the store).
func (s *Store) prepare() error {
	for _, d := range []string{s.blobDir, s.snapDir, s.ingestDir, s.tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	for _, d := range []string{s.ingestDir, s.tmpDir} {
		if err := emptyDir(d, func(string) bool { return true }); err != nil {
			return err
		}
	}
	if err := emptyDir(s.blobDir, func(n string) bool {
		_, err := parseDigest("sha256:" + n)
		return err != nil
	}); err != nil {
		return err
	}
	return emptyDir(s.snapDir, func(n string) bool {
		if _, err := parseDigest("sha256:" + n); err != nil {
			return true
		}
		_, err := s.readSnapshotMeta(n)
		return err != nil
	})
}

// emptyDir removes the entries of dir that junk selects, logging each.
func emptyDir(dir string, junk func(name string) bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	for _, e := range entries {
		if !junk(e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("%w: removing leftover: %w", ErrStorage, err)
		}
	}
	return nil
}

// Close stops the pulls in flight (their callers get ErrClosed), waits for
// them, and releases the root. The Store is unusable afterwards.
func (s *Store) Close() error {
	s.cancel(ErrClosed)
	s.wg.Wait()
	if s.lock != nil {
		err := s.lock.Close()
		s.lock = nil
		return err
	}
	return nil
}

// Root is the store's root directory (absolute, symlinks resolved): the
// filesystem ImageFsInfo reports on.
func (s *Store) Root() string { return s.root }

func (s *Store) newLease() *lease {
	l := &lease{blobs: map[string]bool{}, snaps: map[string]bool{}}
	s.mu.Lock()
	s.leases[l] = struct{}{}
	s.mu.Unlock()
	return l
}

// hold adds blobs and snapshots to a lease. Once hold returns, GC either
// has already removed them (the caller sees them missing and fetches them
// again) or will keep them.
func (s *Store) hold(l *lease, blobs, snaps []string) {
	s.mu.Lock()
	for _, b := range blobs {
		l.blobs[b] = true
	}
	for _, c := range snaps {
		l.snaps[c] = true
	}
	s.mu.Unlock()
}

func (s *Store) release(l *lease) {
	s.mu.Lock()
	delete(s.leases, l)
	s.mu.Unlock()
}

// Hold keeps exactly the named blobs (by digest) and snapshots (by chain
// ID) from GC until the returned release is called (release is
// idempotent); unlike Refs, it does not follow references. The runtime holds
// an image's chain while it creates a container, from Lowers to the moment
// the container is journalled and so named in the Refs of later GCs.
func (s *Store) Hold(digests, chainIDs []string) (release func()) {
	l := s.newLease()
	s.hold(l, digests, chainIDs)
	var once sync.Once
	return func() { once.Do(func() { s.release(l) }) }
}

// Lowers returns the overlayfs lowerdir list of an image whose layers have
// the given chain IDs (bottom first, as Pulled.ChainIDs): the snapshot
// directories top-most first. It fails with ErrNotFound when a snapshot is
// missing.
func (s *Store) Lowers(chainIDs []string) ([]string, error) {
	out := make([]string, 0, len(chainIDs))
	for i := len(chainIDs) - 1; i >= 0; i-- {
		if _, err := parseDigest(chainIDs[i]); err != nil {
			return nil, fmt.Errorf("%w: chain id: %w", ErrInvalidReference, err)
		}
		if !s.hasSnapshot(chainIDs[i]) {
			return nil, fmt.Errorf("%w: snapshot %s", ErrNotFound, chainIDs[i])
		}
		out = append(out, filepath.Join(s.snapshotDir(chainIDs[i]), "fs"))
	}
	return out, nil
}

// Missing lists what of an image is not on disk.
type Missing struct {
	Blobs     []string // digests of manifests, configs, layers
	Snapshots []string // chain IDs
}

// Complete reports whether nothing is missing.
func (m Missing) Complete() bool { return len(m.Blobs) == 0 && len(m.Snapshots) == 0 }

// Check reports what of an image (its top-level manifest or index digest,
// as Pulled.ManifestDigest, and its chain IDs) is missing on disk, for the
// reconciliation at daemon start: an image with something missing must be
// pulled again or dropped. Nil chainIDs means those the config names.
func (s *Store) Check(manifestDigest string, chainIDs []string) (Missing, error) {
	var m Missing
	if _, err := parseDigest(manifestDigest); err != nil {
		return m, fmt.Errorf("%w: %w", ErrInvalidReference, err)
	}
	missingBlob := func(d string) bool {
		if s.hasBlob(d) {
			return false
		}
		m.Blobs = append(m.Blobs, d)
		return true
	}
	digest := manifestDigest
	for depth := 0; ; depth++ {
		if missingBlob(digest) {
			return m, nil
		}
		raw, err := s.readBlob(digest)
		if err != nil {
			return m, err
		}
		mf, err := parseManifest(raw, "")
		if err != nil {
			return m, fmt.Errorf("%w: stored manifest %s: %w", ErrStorage, digest, err)
		}
		if !mf.isIndex() {
			if !missingBlob(mf.Config.Digest) && chainIDs == nil {
				raw, err := s.readBlob(mf.Config.Digest)
				if err != nil {
					return m, err
				}
				cfg, err := ParseConfig(raw)
				if err != nil {
					return m, fmt.Errorf("%w: stored config: %w", ErrStorage, err)
				}
				chainIDs = ChainIDs(cfg.DiffIDs)
			}
			for _, l := range mf.Layers {
				missingBlob(l.Digest)
			}
			break
		}
		child, err := mf.selectPlatform(s.platform)
		if err != nil || depth > maxIndexDepth {
			return m, fmt.Errorf("%w: stored index %s: %w", ErrStorage, digest, err)
		}
		digest = child.Digest
	}
	for _, c := range chainIDs {
		if _, err := parseDigest(c); err != nil || !s.hasSnapshot(c) {
			m.Snapshots = append(m.Snapshots, c)
		}
	}
	sort.Strings(m.Blobs)
	return m, nil
}

// errIs reports whether err is one of targets.
func errIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
