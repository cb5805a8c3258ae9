// Package faults holds logbook's fault-injection helpers for the tests of
// e2e/faults_test.go: runc-fault (a runc that fails or hangs on chosen
// subcommands), cni-fault (a CNI plugin that fails or hangs on chosen
// commands), and Registry, an http.Handler in front of a registry that
// corrupts or stalls the blobs it serves.
//
// The scripts read their rules from a file at every call, so a test
// changes a fault's behaviour while the daemon runs, without restarting
// it. Registry changes mode the same way (Set).
package faults

import (
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Mode is what Registry does to blob downloads.
type Mode int

const (
	// Pass serves blobs as the upstream registry does.
	Pass Mode = iota
	// Corrupt flips one byte in the middle of every blob: same length,
	// wrong digest.
	Corrupt
	// Stall sends the first half of every blob, then nothing until the
	// client goes away or Release is called.
	Stall
)

// Registry proxies a registry (the offline test registry) and injects
// faults into blob downloads; manifests always pass. It is safe for
// concurrent use.
type Registry struct {
	proxy *httputil.ReverseProxy

	mu      sync.Mutex
	mode    Mode
	release chan struct{}
	stalled chan struct{} // closed when the first stall begins
	blobs   int           // blob responses served (whatever the mode)
}

// NewRegistry proxies upstream.
func NewRegistry(upstream *url.URL) *Registry {
	r := &Registry{release: make(chan struct{}), stalled: make(chan struct{})}
	r.proxy = httputil.NewSingleHostReverseProxy(upstream)
	r.proxy.ModifyResponse = r.modify
	// A stall ended by the client is the point, not news.
	r.proxy.ErrorLog = log.New(io.Discard, "", 0)
	return r
}

// Set changes the mode for the requests that come next.
func (r *Registry) Set(m Mode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = m
}

// Release ends every stall, now and later (the rest of the blob is sent).
func (r *Registry) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.release:
	default:
		close(r.release)
	}
}

// Stalled is closed once a blob download has stalled.
func (r *Registry) Stalled() <-chan struct{} { return r.stalled }

// Blobs is how many blob responses were served.
func (r *Registry) Blobs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.blobs
}

func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.proxy.ServeHTTP(w, req) }

func (r *Registry) modify(resp *http.Response) error {
	if resp.Request.Method != http.MethodGet || !strings.Contains(resp.Request.URL.Path, "/blobs/") || resp.StatusCode != http.StatusOK {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobs++
	switch r.mode {
	case Corrupt:
		resp.Body = &corrupter{rc: resp.Body, at: resp.ContentLength / 2}
	case Stall:
		resp.Body = &staller{rc: resp.Body, left: max(resp.ContentLength/2, 1), r: r, done: resp.Request.Context().Done()}
	}
	return nil
}

// corrupter flips the byte at offset at.
type corrupter struct {
	rc  io.ReadCloser
	at  int64
	off int64
}

func (c *corrupter) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if c.at >= c.off && c.at < c.off+int64(n) {
		p[c.at-c.off] ^= 0xff
	}
	c.off += int64(n)
	return n, err
}

func (c *corrupter) Close() error { return c.rc.Close() }

// staller passes left bytes, then blocks until the registry releases it
// or the request ends.
type staller struct {
	rc   io.ReadCloser
	left int64
	r    *Registry
	done <-chan struct{}
	once sync.Once
}

func (s *staller) Read(p []byte) (int, error) {
	if s.left <= 0 {
		s.once.Do(func() {
			s.r.mu.Lock()
			select {
			case <-s.r.stalled:
			default:
				close(s.r.stalled)
			}
			s.r.mu.Unlock()
		})
		s.r.mu.Lock()
		release := s.r.release
		s.r.mu.Unlock()
		select {
		case <-release:
			return s.rc.Read(p)
		case <-s.done:
			return 0, io.ErrUnexpectedEOF
		}
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.rc.Read(p)
	s.left -= int64(n)
	return n, err
}

func (s *staller) Close() error { return s.rc.Close() }
