package daemon

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// imageRegistry serves one random image as <host>/app:1 and returns the
// registry's host.
func imageRegistry(t *testing.T) (host, imageID string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/app:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return host, id.String()
}

func imageClient(t *testing.T, socket string) runtimeapi.ImageServiceClient {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimeapi.NewImageServiceClient(conn)
}

// TestImagesWiredAndKeptAcrossRestart: the daemon pulls through its
// configured mirror into the store under its root, serves the image
// service, keeps the image across a restart (from the journal), reports a
// blob deleted while it was down, and removes it.
func TestImagesWiredAndKeptAcrossRestart(t *testing.T) {
	host, id := imageRegistry(t)
	cfg := testConfig(t, t.TempDir())
	cfg.RegistryMirrors = map[string][]string{"registry.test": {"http://" + host}}
	cfg.MetricsAddress = "127.0.0.1:0"
	d, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := imageClient(t, d.socket)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pull, err := c.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.test/app:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if pull.GetImageRef() != id {
		t.Fatalf("image_ref %s, want %s", pull.GetImageRef(), id)
	}
	fs, err := c.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fs.GetImageFilesystems()[0]; got.GetFsId().GetMountpoint() != filepath.Join(cfg.Root, "image") || got.GetUsedBytes().GetValue() == 0 {
		t.Errorf("image filesystem = %v", got)
	}
	if body := get(t, "http://"+d.metricsAddr.String()+"/metrics"); !strings.Contains(body, `logbook_image_pulls_total{outcome="ok"} 1`) {
		t.Error("the image metrics are not registered or not fed")
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}

	// Down: a layer blob is lost.
	status, err := func() (*runtimeapi.ImageStatusResponse, error) {
		blobs := filepath.Join(cfg.Root, "image", "content", "blobs", "sha256")
		entries, err := os.ReadDir(blobs)
		if err != nil {
			return nil, err
		}
		// Keep the manifest and config (small JSON); drop the largest blob.
		var victim string
		var size int64
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				return nil, err
			}
			if fi.Size() > size {
				victim, size = e.Name(), fi.Size()
			}
		}
		if err := os.Remove(filepath.Join(blobs, victim)); err != nil {
			return nil, err
		}
		cfg.MetricsAddress = ""
		d, err = start(t, cfg)
		if err != nil {
			return nil, err
		}
		c = imageClient(t, d.socket)
		return c.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "registry.test/app:1"}, Verbose: true})
	}()
	if err != nil {
		t.Fatal(err)
	}
	if status.GetImage().GetId() != id || !slices.Equal(status.GetImage().GetRepoTags(), []string{"registry.test/app:1"}) {
		t.Errorf("after restart: %v", status.GetImage())
	}
	if !strings.Contains(status.GetInfo()["info"], `"missing"`) {
		t.Errorf("a lost blob is not reported: %s", status.GetInfo()["info"])
	}

	if _, err := c.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: id}}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil || len(list.GetImages()) != 0 {
		t.Errorf("after removal: %v, %v", list, err)
	}
}
