package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/image/archive"
)

// snapshotMeta is <root>/snapshots/<chain hex>/meta.json.
type snapshotMeta struct {
	ChainID string `json:"chainID"`
	DiffID  string `json:"diffID"`
	// Parent is the chain ID of the layer below ("" for a bottom layer):
	// GC keeps a snapshot's parents with it.
	Parent string `json:"parent,omitempty"`
	// Size is the uncompressed size of the layer's tar stream.
	Size int64 `json:"size"`
}

func (s *Store) snapshotDir(chainID string) string {
	hexPart, _ := parseDigest(chainID)
	return filepath.Join(s.snapDir, hexPart)
}

// hasSnapshot reports whether the snapshot is committed. Snapshot
// directories appear only by rename once complete.
func (s *Store) hasSnapshot(chainID string) bool {
	st, err := os.Lstat(filepath.Join(s.snapshotDir(chainID), "fs"))
	return err == nil && st.IsDir()
}

func (s *Store) readSnapshotMeta(hexPart string) (snapshotMeta, error) {
	var m snapshotMeta
	b, err := os.ReadFile(filepath.Join(s.snapDir, hexPart, "meta.json"))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// layerJob is one layer to unpack: its blob, its diff ID, where it goes.
type layerJob struct {
	blob    string // compressed blob digest
	diffID  string
	chainID string
	parent  string   // chain ID below, "" at the bottom
	lowers  []string // fs dirs of the layers below, top-most first
}

// decompress picks the decompressor from the stream's magic bytes (gzip,
// zstd, or none), which is what the blob is whatever its media type says.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// unpackLayer builds the snapshot of one layer: unpack into a directory
// under tmp/, check the diff ID, record the metadata, flush the filesystem,
// and rename the whole directory into snapshots/. Until that rename the
// snapshot does not exist; after it, it is complete.
func (s *Store) unpackLayer(ctx context.Context, job layerJob) (err error) {
	start := time.Now()
	tmp, err := os.MkdirTemp(s.tmpDir, "snap-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	f, err := os.Open(s.blobPath(job.blob))
	if err != nil {
		return fmt.Errorf("%w: layer blob %s: %w", ErrStorage, job.blob, err)
	}
	defer f.Close()
	dr, err := decompress(f)
	if err != nil {
		return fmt.Errorf("%w: layer %s: decompressing: %w", ErrInvalidImage, job.blob, err)
	}
	defer dr.Close()
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(dr, h)}
	stats, err := archive.Unpack(ctx, counted, fsDir, archive.Options{Lowers: job.lowers, Logger: s.log})
	if err == nil {
		// The tar end-of-archive padding and anything after it count for
		// the diff ID too.
		_, err = io.Copy(io.Discard, counted)
	}
	if err != nil {
		return s.unpackError(ctx, job, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != job.diffID {
		return fmt.Errorf("%w: layer %s uncompresses to %s, the config says %s", ErrInvalidImage, job.blob, got, job.diffID)
	}
	meta, _ := json.Marshal(snapshotMeta{ChainID: job.chainID, DiffID: job.diffID, Parent: job.parent, Size: counted.n})
	if err := writeFileSync(filepath.Join(tmp, "meta.json"), meta); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := syncFS(tmp); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := os.Rename(tmp, s.snapshotDir(job.chainID)); err != nil {
		if s.hasSnapshot(job.chainID) {
			// Committed meanwhile by someone else: theirs is as good.
			os.RemoveAll(tmp)
			return nil
		}
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := syncDir(s.snapDir); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	took := time.Since(start)
	s.metrics.LayerUnpacked(counted.n, took)
	s.log.Debug("layer unpacked", "chain_id", job.chainID, "entries", stats.Entries, "bytes", counted.n, "took", took)
	return nil
}

func (s *Store) unpackError(ctx context.Context, job layerJob, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctxError(ctx)
	case errors.Is(err, archive.ErrInvalid):
		return fmt.Errorf("%w: layer %s: %w", ErrInvalidImage, job.blob, err)
	case errors.Is(err, archive.ErrHost):
		return fmt.Errorf("%w: layer %s: %w", ErrStorage, job.blob, err)
	}
	// The decompressor failed: the (verified) blob is not what its media
	// type claims.
	return fmt.Errorf("%w: layer %s: %w", ErrInvalidImage, job.blob, err)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncFS flushes the filesystem holding dir, so that a snapshot's files
// are on disk before the rename that publishes it.
func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}
