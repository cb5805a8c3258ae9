package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// defaultDebianMirror is the prefix of every URL in inputs.lock;
// LOGBOOK_DEBIAN_MIRROR replaces it.
const defaultDebianMirror = "http://deb.debian.org/debian"

// input is one pinned download.
type input struct {
	Name   string // logical name the recipes use, e.g. "busybox-orig"
	SHA256 string // lower-case hex
	Size   int64
	URL    string
}

// File is the name the input is cached under: the last element of its URL,
// which carries the package version, so a new pin never collides with an
// old file.
func (in input) File() string { return path.Base(in.URL) }

// pins is the parsed inputs.lock.
type pins map[string]input

func (p pins) get(name string) (input, error) {
	in, ok := p[name]
	if !ok {
		return input{}, fmt.Errorf("%w: %s", ErrUnknownInput, name)
	}
	return in, nil
}

// parseLock reads inputs.lock: one "<name> <sha256> <size> <url>" a line,
// '#' comments and blank lines ignored.
func parseLock(r io.Reader) (pins, error) {
	out := pins{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("%w: line %d: want 4 fields, have %d", ErrLockFile, n, len(f))
		}
		sum := f[1]
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size || strings.ToLower(sum) != sum {
			return nil, fmt.Errorf("%w: line %d: %q is not a lower-case sha256", ErrLockFile, n, sum)
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || size <= 0 {
			return nil, fmt.Errorf("%w: line %d: bad size %q", ErrLockFile, n, f[2])
		}
		if !strings.HasPrefix(f[3], "http://") && !strings.HasPrefix(f[3], "https://") {
			return nil, fmt.Errorf("%w: line %d: %q is not an http(s) URL", ErrLockFile, n, f[3])
		}
		if _, dup := out[f[0]]; dup {
			return nil, fmt.Errorf("%w: line %d: %s pinned twice", ErrLockFile, n, f[0])
		}
		out[f[0]] = input{Name: f[0], SHA256: sum, Size: size, URL: f[3]}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// mirrorURL rewrites a pinned URL onto another Debian mirror.
func mirrorURL(url, mirror string) string {
	if mirror == "" || !strings.HasPrefix(url, defaultDebianMirror+"/") {
		return url
	}
	return strings.TrimSuffix(mirror, "/") + strings.TrimPrefix(url, defaultDebianMirror)
}

// inputStore is the downloads directory of the cache.
type inputStore struct {
	dir     string // <cache>/downloads
	offline bool   // never download; a missing input is ErrInputMissing
	mirror  string // LOGBOOK_DEBIAN_MIRROR, or empty
	client  *http.Client
	log     *slog.Logger
}

// path returns the cached file of in, downloading it first if it is missing
// (and the store may download). A cached file is verified on every use: a
// stale or corrupt one is replaced when online and an error when offline.
func (s *inputStore) path(ctx context.Context, in input) (string, error) {
	p := filepath.Join(s.dir, in.File())
	err := verifyFile(p, in)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrChecksum) {
		return "", err
	}
	if s.offline {
		return "", fmt.Errorf("%w: %s (%s): %v; run `testimages fetch` with network access", ErrInputMissing, in.Name, p, err)
	}
	if err := s.download(ctx, in, p); err != nil {
		return "", err
	}
	return p, nil
}

func (s *inputStore) download(ctx context.Context, in input, dst string) error {
	url := mirrorURL(in.URL, s.mirror)
	s.log.Info("downloading", "input", in.Name, "url", url, "bytes", in.Size)
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", in.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s: %s", in.Name, url, resp.Status)
	}
	tmp, err := os.CreateTemp(s.dir, ".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, in.Size+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", in.Name, err)
	}
	if err := checkSum(in, n, hex.EncodeToString(h.Sum(nil))); err != nil {
		return fmt.Errorf("download %s from %s: %w", in.Name, url, err)
	}
	return os.Rename(tmp.Name(), dst)
}

// verifyFile checks the size and sha256 of a cached input.
func verifyFile(p string, in input) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	return checkSum(in, n, hex.EncodeToString(h.Sum(nil)))
}

func checkSum(in input, size int64, sum string) error {
	if size != in.Size || sum != in.SHA256 {
		return fmt.Errorf("%w: %s: have %d bytes sha256 %s, pinned %d bytes sha256 %s",
			ErrChecksum, in.Name, size, sum, in.Size, in.SHA256)
	}
	return nil
}

func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Minute}
}
