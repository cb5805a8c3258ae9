package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxMetadataBlob bounds the manifests, indexes and configs read into
// memory; real ones are a few KiB.
const maxMetadataBlob = 16 << 20

func (s *Store) blobPath(digest string) string {
	hexPart, _ := parseDigest(digest)
	return filepath.Join(s.blobDir, hexPart)
}

// hasBlob reports whether the blob is committed. Blobs appear only by
// rename once verified, so presence means complete.
func (s *Store) hasBlob(digest string) bool {
	st, err := os.Lstat(s.blobPath(digest))
	return err == nil && st.Mode().IsRegular()
}

// readBlob returns a committed metadata blob.
func (s *Store) readBlob(digest string) ([]byte, error) {
	f, err := os.Open(s.blobPath(digest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: blob %s", ErrNotFound, digest)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetadataBlob+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if len(b) > maxMetadataBlob {
		return nil, fmt.Errorf("%w: blob %s is larger than %d bytes", ErrInvalidImage, digest, maxMetadataBlob)
	}
	return b, nil
}

// sourceError marks an error of the reader a blob is copied from (the
// network), as opposed to the local disk.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// writeBlob stores the blob read from r, which must be exactly size bytes
// hashing to digest: into an ingest file, hashed on the way, fsync'd, then
// renamed into place and the directory fsync'd. On any failure nothing is
// left. Errors of r come back as *sourceError; a content mismatch as
// ErrDigestMismatch; local failures as ErrStorage.
func (s *Store) writeBlob(digest string, size int64, r io.Reader) (err error) {
	hexPart, err := parseDigest(digest)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidImage, err)
	}
	f, err := os.CreateTemp(s.ingestDir, hexPart[:16]+"-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), sourceReader{io.LimitReader(r, size+1)})
	var se *sourceError
	switch {
	case errors.As(err, &se):
		return se
	case err != nil:
		return fmt.Errorf("%w: %w", ErrStorage, err)
	case n != size:
		return fmt.Errorf("%w: blob %s: got %d bytes, want %d", ErrDigestMismatch, digest, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hexPart {
		return fmt.Errorf("%w: blob %s hashes to sha256:%s", ErrDigestMismatch, digest, got)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(s.blobDir, hexPart)); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := syncDir(s.blobDir); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return nil
}

// putBlob stores a blob held in memory (a manifest the registry returned).
func (s *Store) putBlob(digest string, data []byte) error {
	if s.hasBlob(digest) {
		return nil
	}
	return s.writeBlob(digest, int64(len(data)), bytes.NewReader(data))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
