package e2e

// Helpers of the security and bad-input suites: a second registry that
// serves images made in the test (hostile layers), the journal's bounds
// read over the daemon's socket, and ExecSync with its output.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	jremote "github.com/logbook-cri/logbook/journal/remote"
)

// daemonConfig reads the daemon's configuration file as JSON.
func (e *env) daemonConfig() map[string]any {
	e.t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

// setConfig changes one key of the daemon's configuration (before start).
func (e *env) setConfig(key string, v any) {
	e.t.Helper()
	cfg := e.daemonConfig()
	cfg[key] = v
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(e.cfgPath, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// addMirror makes the daemon fetch host's images from url (before start).
func (e *env) addMirror(host, url string) {
	e.t.Helper()
	mirrors := e.daemonConfig()["registry-mirrors"].(map[string]any)
	mirrors[host] = []string{url}
	e.setConfig("registry-mirrors", mirrors)
}

// testRegistry is the host:port of the test image registry (bin/testimages).
func (e *env) testRegistry() string {
	e.t.Helper()
	mirrors := e.daemonConfig()["registry-mirrors"].(map[string]any)
	return strings.TrimPrefix(mirrors["docker.io"].([]any)[0].(string), "http://")
}

// imageRegistry is an in-memory registry on loopback for images the test
// makes; the daemon reaches it as the mirror of registry host "hostile.test".
type imageRegistry struct {
	t    *testing.T
	addr string // 127.0.0.1:port
}

const hostileHost = "hostile.test"

func newImageRegistry(t *testing.T, e *env) *imageRegistry {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	r := &imageRegistry{t: t, addr: strings.TrimPrefix(srv.URL, "http://")}
	e.addMirror(hostileHost, srv.URL)
	return r
}

// push stores base (nil: no layers) plus one layer per tar stream as
// repo:tag and returns the reference the daemon pulls it by.
func (r *imageRegistry) push(repo string, base v1.Image, layers ...[]byte) string {
	r.t.Helper()
	img := base
	if img == nil {
		var err error
		if img, err = mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: goruntime.GOARCH,
			RootFS: v1.RootFS{Type: "layers"}}); err != nil {
			r.t.Fatal(err)
		}
	}
	for _, data := range layers {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			r.t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			r.t.Fatal(err)
		}
	}
	ref, err := name.ParseReference(r.addr+"/"+repo, name.Insecure)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		r.t.Fatal(err)
	}
	return hostileHost + "/" + repo
}

// busyboxImage fetches the busybox test image from the test registry, to
// build hostile images on.
func (e *env) busyboxImage() v1.Image {
	e.t.Helper()
	ref, err := name.ParseReference(e.testRegistry()+"/e2e-test-images/busybox:1.29-2", name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return img
}

// tarEntry is one member of a hand-made layer.
type tarEntry struct {
	typ            byte // tar.TypeReg, TypeDir, TypeSymlink, TypeLink, TypeChar, TypeBlock
	name, linkname string
	body           string
	mode           int64
	major, minor   int64
}

func layerOf(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, en := range entries {
		mode := en.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Typeflag: en.typ, Name: en.name, Linkname: en.linkname, Mode: mode,
			Size: int64(len(en.body)), Devmajor: en.major, Devminor: en.minor, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if en.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, en.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// journal reads the daemon's journal over its socket.
func (d *daemon) journal() *jremote.Client { return jremote.NewClient(d.conn) }

// journalLast is the sequence number of the journal's last record.
func (e *env) journalLast() uint64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, last, err := e.d.journal().Bounds(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return last
}

// journalSince lists the types of the records after seq, to say what an
// operation that should have journaled nothing journaled.
func (e *env) journalSince(seq uint64) []string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, last, err := e.d.journal().Bounds(ctx)
	if err != nil || last <= seq {
		return nil
	}
	var out []string
	e.d.journal().Read(ctx, seq+1, last, func(r journal.Record) error {
		out = append(out, r.Type+" "+r.SandboxID+" "+r.ContainerID)
		return nil
	})
	return out
}

// execSync runs script with sh -c in a container and returns its exit
// code and output.
func (e *env) execSync(id, script string) (code int32, stdout, stderr string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", script}, Timeout: 20})
	if err != nil {
		e.t.Fatalf("exec %q: %v", script, err)
	}
	return res.GetExitCode(), string(res.GetStdout()), string(res.GetStderr())
}

// containerState polls until the container is in state.
func (e *env) awaitContainerState(id string, state runtimeapi.ContainerState) *runtimeapi.ContainerStatus {
	e.t.Helper()
	var st *runtimeapi.ContainerStatus
	poll(e.t, "container "+id+" "+state.String(), 30*time.Second, func() error {
		res, err := e.d.rt.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			return err
		}
		if st = res.GetStatus(); st.GetState() != state {
			return &stateError{st}
		}
		return nil
	})
	return st
}
