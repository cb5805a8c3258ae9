package image

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

const (
	crashRootEnv     = "LOGBOOK_IMAGE_CRASH_ROOT"
	crashRegistryEnv = "LOGBOOK_IMAGE_CRASH_REGISTRY"
)

// crashChild is the process the crash test kills: it pulls and never gets
// to finish.
func crashChild() {
	s, err := Open(os.Getenv(crashRootEnv), Options{
		Mirrors:   map[string][]string{"example.test": {"http://" + os.Getenv(crashRegistryEnv)}},
		Transport: (&dialLog{}).transport(nil),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	_, err = s.Pull(context.Background(), "example.test/crash:1", nil)
	fmt.Fprintln(os.Stderr, "child pull returned:", err)
	os.Exit(3)
}

// randomFiles is a layer of n incompressible files of size bytes each.
func randomFiles(t *testing.T, prefix string, n, size int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	var es []ent
	es = append(es, dirEnt(prefix+"/", 0o755))
	for i := 0; i < n; i++ {
		b := make([]byte, size)
		rng.Read(b)
		es = append(es, fileEnt(fmt.Sprintf("%s/f%04d", prefix, i), string(b), 0o644))
	}
	return tarOf(t, es...)
}

// TestCrashMidPull kills (SIGKILL) a process in the middle of a pull, with
// a blob half downloaded, and checks that the next Open leaves no garbage,
// that no half image is visible, and that a new pull completes it.
func TestCrashMidPull(t *testing.T) {
	if os.Getenv(crashRootEnv) != "" {
		crashChild()
		return
	}
	reg := newRegistry(t, false)
	img := imageOf(t, "amd64", "crash",
		layerOf(t, randomFiles(t, "bottom", 64, 16<<10, 1)),
		layerOf(t, randomFiles(t, "middle", 256, 16<<10, 2)),
		layerOf(t, randomFiles(t, "top", 64, 64<<10, 3)),
	)
	reg.push(t, "crash:1", img)
	layers, _ := img.Layers()
	top, _ := layers[2].Digest()
	halfServed := make(chan struct{}, 1)
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+top.String()) {
			return false
		}
		rc, _ := layers[2].Compressed()
		defer rc.Close()
		size, _ := layers[2].Size()
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusOK)
		buf := make([]byte, size/2)
		n, _ := rc.Read(buf)
		w.Write(buf[:n])
		w.(http.Flusher).Flush()
		halfServed <- struct{}{}
		<-r.Context().Done()
		return true
	})

	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidPull$")
	cmd.Env = append(os.Environ(), crashRootEnv+"="+root, crashRegistryEnv+"="+reg.host)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-halfServed
	waitFor(t, "the partial blob in ingest/", func() bool { return len(entries(t, join(root, "ingest"))) > 0 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child did not die by the signal: %v; stderr: %s", err, stderr.String())
	}
	leftovers := len(entries(t, join(root, "ingest"))) + len(entries(t, join(root, "tmp")))

	s, err := Open(root, Options{Mirrors: mirrorTo(reg), Transport: (&dialLog{}).transport(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if leftovers == 0 {
		t.Fatal("the crash left nothing to clean: the test did not crash mid-pull")
	}
	for _, d := range []string{s.ingestDir, s.tmpDir} {
		if n := entries(t, d); len(n) != 0 {
			t.Errorf("%s after Open: %v", d, n)
		}
	}
	// Every snapshot present is complete: it has its metadata, and its
	// layer's files.
	for _, n := range entries(t, s.snapDir) {
		m, err := s.readSnapshotMeta(n)
		if err != nil {
			t.Errorf("snapshot %s without metadata: %v", n, err)
			continue
		}
		if got := len(entries(t, join(s.snapDir, n, "fs"))); got != 1 {
			t.Errorf("snapshot %s (%s) has %d top entries, want 1", n, m.DiffID, got)
		}
	}
	digest := mustDigest(t, img.Digest)
	missing, err := s.Check(digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if missing.Complete() || !contains(missing.Blobs, top.String()) {
		t.Errorf("Check after the crash = %+v, want the top layer blob missing", missing)
	}

	reg.setIntercept(nil)
	p, err := s.Pull(context.Background(), "example.test/crash:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	checkPulled(t, s, p, img, "example.test/crash:1", digest)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
