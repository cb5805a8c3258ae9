package images

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/runtime"
)

func TestPullJournalsTheImageAndItsNamesInOneAppend(t *testing.T) {
	reg := newRegistry(t)
	img := testImage(t, "app", "1002")
	reg.push(t, "team/app:1", img)
	e := newEnv(t, reg, envOptions{})

	id := e.pull(testDomain + "/team/app:1")
	if want := digestOf(t, img.ConfigName); id != want {
		t.Fatalf("image ID %s, want the config digest %s", id, want)
	}
	manifest := digestOf(t, img.Digest)
	got := e.image(id)
	if !slices.Equal(got.RepoTags(), []string{"registry.test/team/app:1"}) ||
		!slices.Equal(got.RepoDigests(), []string{"registry.test/team/app@" + manifest}) {
		t.Errorf("names = %v / %v", got.RepoTags(), got.RepoDigests())
	}
	if got.ManifestDigest != manifest || got.UID == nil || *got.UID != 1002 || len(got.ChainIDs) != 2 {
		t.Errorf("image = %+v", got)
	}
	wantAppends := [][]string{{string(events.ImagePulledType), string(events.ImageTaggedType), string(events.ImageTaggedType)}}
	if a := e.app.appends(); !slices.EqualFunc(a, wantAppends, slices.Equal) {
		t.Errorf("appends = %v, want %v", a, wantAppends)
	}
	// Every lookup a kubelet or crictl uses resolves it.
	for _, ref := range []string{id, strings.TrimPrefix(id, "sha256:"), strings.TrimPrefix(id, "sha256:")[:12],
		"registry.test/team/app:1", "registry.test/team/app@" + manifest} {
		if img, ok := e.proj.Image(ref); !ok || img.ID != id {
			t.Errorf("lookup %q: %v", ref, ok)
		}
	}
}

// TestPullNormalisesDockerHubNames: "busybox" is
// docker.io/library/busybox:latest, as kubelets and crictl mean it, and
// keeps that name whichever mirror served it.
func TestPullNormalisesDockerHubNames(t *testing.T) {
	reg := newRegistry(t)
	reg.push(t, "library/busybox:latest", testImage(t, "busybox", ""))
	e := newEnv(t, reg, envOptions{})
	id := e.pull("busybox")
	got := e.image(id)
	if !slices.Equal(got.RepoTags(), []string{"docker.io/library/busybox:latest"}) ||
		len(got.RepoDigests()) != 1 || !strings.HasPrefix(got.RepoDigests()[0], "docker.io/library/busybox@sha256:") {
		t.Errorf("names = %v", got.Names)
	}
	for _, ref := range []string{"busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox"} {
		if img, ok := e.proj.Image(ref); !ok || img.ID != id {
			t.Errorf("lookup %q failed", ref)
		}
	}
}

func TestPullAlwaysAsksTheRegistryAndAppendsOnlyChanges(t *testing.T) {
	reg := newRegistry(t)
	reg.push(t, "app:1", testImage(t, "app", ""))
	e := newEnv(t, reg, envOptions{})
	id := e.pull(testDomain + "/app:1")
	before := reg.count("GET", "/manifests/1")
	last := e.proj.Seq()

	if again := e.pull(testDomain + "/app:1"); again != id {
		t.Fatalf("second pull gave %s, first %s", again, id)
	}
	if reg.count("GET", "/manifests/1") <= before {
		t.Error("the second pull did not resolve the tag at the registry")
	}
	if e.proj.Seq() != last {
		t.Errorf("a pull that changed nothing appended events: seq %d -> %d", last, e.proj.Seq())
	}
}

func TestPullFollowsAMovedTag(t *testing.T) {
	reg := newRegistry(t)
	v1img, v2img := testImage(t, "v1", ""), testImage(t, "v2", "")
	reg.push(t, "app:stable", v1img)
	e := newEnv(t, reg, envOptions{})
	old := e.pull(testDomain + "/app:stable")

	reg.push(t, "app:stable", v2img)
	cur := e.pull(testDomain + "/app:stable")
	if cur == old {
		t.Fatal("the moved tag resolved to the old image")
	}
	if got := e.image(cur).RepoTags(); !slices.Equal(got, []string{"registry.test/app:stable"}) {
		t.Errorf("new image tags = %v", got)
	}
	oldImg := e.image(old)
	if len(oldImg.RepoTags()) != 0 || !slices.Equal(oldImg.RepoDigests(), []string{"registry.test/app@" + digestOf(t, v1img.Digest)}) {
		t.Errorf("old image keeps %v / %v, want only its digest name", oldImg.RepoTags(), oldImg.RepoDigests())
	}
	a := e.app.appends()
	want := []string{string(events.ImagePulledType), string(events.ImageUntaggedType), string(events.ImageTaggedType), string(events.ImageTaggedType)}
	if len(a) != 2 || !slices.Equal(a[1], want) {
		t.Errorf("appends = %v, want the second to be %v", a, want)
	}
}

func TestPullByDigestAndSeveralTags(t *testing.T) {
	reg := newRegistry(t)
	img := testImage(t, "tags", "www-data")
	for _, tag := range []string{"1", "2", "3"} {
		reg.push(t, "tags:"+tag, img)
	}
	e := newEnv(t, reg, envOptions{})
	manifest := digestOf(t, img.Digest)
	id := e.pull(testDomain + "/tags@" + manifest)
	got := e.image(id)
	if len(got.RepoTags()) != 0 || !slices.Equal(got.RepoDigests(), []string{"registry.test/tags@" + manifest}) {
		t.Errorf("pull by digest: %v / %v", got.RepoTags(), got.RepoDigests())
	}
	for _, tag := range []string{"3", "1", "2"} {
		if e.pull(testDomain+"/tags:"+tag) != id {
			t.Fatalf("tag %s is another image", tag)
		}
	}
	got = e.image(id)
	want := []string{"registry.test/tags:1", "registry.test/tags:2", "registry.test/tags:3"}
	if !slices.Equal(got.RepoTags(), want) || len(got.RepoDigests()) != 1 || got.Username != "www-data" {
		t.Errorf("one image, three tags: %v / %v, user %q", got.RepoTags(), got.RepoDigests(), got.Username)
	}
}

// TestPullHonoursTheDeadline: the registry holds the manifest request
// until the caller gives up; a pull of an image already present still
// fails with the deadline, and journals nothing.
func TestPullHonoursTheDeadline(t *testing.T) {
	reg := newRegistry(t)
	reg.push(t, "app:1", testImage(t, "app", ""))
	e := newEnv(t, reg, envOptions{})
	e.pull(testDomain + "/app:1")
	last := e.proj.Seq()

	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		<-r.Context().Done()
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := e.svc.Pull(ctx, testDomain+"/app:1", nil)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, image.ErrDeadlineExceeded) {
		t.Fatalf("pull with a 1 ms deadline: %v, want a deadline error", err)
	}
	if image.Outcome(err) != "deadline_exceeded" {
		t.Errorf("outcome %q", image.Outcome(err))
	}
	if e.proj.Seq() != last {
		t.Error("a failed pull appended events")
	}
}

func TestPullErrorsKeepTheirClass(t *testing.T) {
	reg := newRegistry(t)
	e := newEnv(t, reg, envOptions{})
	cases := []struct {
		ref  string
		want error
	}{
		{testDomain + "/absent:1", image.ErrNotFound},
		{"Not A Reference", image.ErrInvalidReference},
	}
	for _, tc := range cases {
		if _, err := e.svc.Pull(context.Background(), tc.ref, nil); !errors.Is(err, tc.want) {
			t.Errorf("pull %q: %v, want %v", tc.ref, err, tc.want)
		}
	}
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	if _, err := e.svc.Pull(context.Background(), testDomain+"/private:1", &image.Auth{Username: "u", Password: "wrong"}); !errors.Is(err, image.ErrUnauthenticated) {
		t.Errorf("refused credentials: %v, want ErrUnauthenticated", err)
	}
	if len(e.app.appends()) != 0 {
		t.Errorf("failed pulls appended %v", e.app.appends())
	}
}

func TestRemoveByEveryKindOfReference(t *testing.T) {
	reg := newRegistry(t)
	img := testImage(t, "rm", "")
	reg.push(t, "rm:1", img)
	manifest := digestOf(t, img.Digest)
	e := newEnv(t, reg, envOptions{})
	for _, ref := range []string{"", "sha256-less", "short", "registry.test/rm:1", "registry.test/rm@" + manifest} {
		t.Run(ref, func(t *testing.T) {
			id := e.pull(testDomain + "/rm:1")
			pulled := e.image(id)
			key := ref
			switch ref {
			case "":
				key = id
			case "sha256-less":
				key = strings.TrimPrefix(id, "sha256:")
			case "short":
				key = strings.TrimPrefix(id, "sha256:")[:12]
			}
			if err := e.svc.Remove(context.Background(), key); err != nil {
				t.Fatal(err)
			}
			for _, r := range []string{id, "registry.test/rm:1", "registry.test/rm@" + manifest} {
				if _, ok := e.proj.Image(r); ok {
					t.Errorf("%s still resolves after removing by %q", r, key)
				}
			}
			// The collection that follows removed the content.
			for _, d := range []string{manifest, id} {
				if exists(t, e.blobPath(d)) {
					t.Errorf("blob %s survived the removal", d)
				}
			}
			for _, c := range pulled.ChainIDs {
				if exists(t, e.snapshotPath(c)) {
					t.Errorf("snapshot %s survived the removal", c)
				}
			}
		})
	}
	// Absent: success, and nothing appended.
	n := len(e.app.appends())
	for _, ref := range []string{strings.Repeat("0", 64), "registry.test/rm:1", "sha256:" + strings.Repeat("0", 64)} {
		if err := e.svc.Remove(context.Background(), ref); err != nil {
			t.Errorf("remove absent %s: %v", ref, err)
		}
	}
	if len(e.app.appends()) != n {
		t.Error("removing an absent image appended events")
	}
}

func TestRemoveTakesEveryNameAndKeepsOtherImages(t *testing.T) {
	reg := newRegistry(t)
	shared := testImage(t, "shared", "")
	other := testImage(t, "other", "")
	reg.push(t, "a:1", shared)
	reg.push(t, "b:1", shared)
	reg.push(t, "other:1", other)
	e := newEnv(t, reg, envOptions{})
	id := e.pull(testDomain + "/a:1")
	e.pull(testDomain + "/b:1")
	otherID := e.pull(testDomain + "/other:1")

	if err := e.svc.Remove(context.Background(), "registry.test/b:1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.proj.Image("registry.test/a:1"); ok {
		t.Error("removing by one tag left the image's other tag")
	}
	if _, ok := e.proj.Image(id); ok {
		t.Error("image still present")
	}
	o := e.image(otherID)
	if m, err := e.store.Check(o.ManifestDigest, o.ChainIDs); err != nil || !m.Complete() {
		t.Errorf("the other image lost content: %+v %v", m, err)
	}
}

func TestConcurrentRemovesAllSucceed(t *testing.T) {
	reg := newRegistry(t)
	reg.push(t, "app:1", testImage(t, "app", ""))
	e := newEnv(t, reg, envOptions{})
	id := e.pull(testDomain + "/app:1")

	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.svc.Remove(context.Background(), id)
			if errs[i] == nil {
				if _, ok := e.proj.Image(id); ok {
					errs[i] = fmt.Errorf("image still resolves after Remove returned")
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("remove %d: %v", i, err)
		}
	}
	removed := 0
	for _, a := range e.app.appends() {
		if slices.Contains(a, string(events.ImageRemovedType)) {
			removed++
		}
	}
	if removed != 1 {
		t.Errorf("%d image.removed events, want 1", removed)
	}
}

// TestRemoveKeepsWhatAContainerUses: an image removed while a container
// uses it loses its names, not the snapshots under the container; they go
// once the container is removed.
func TestRemoveKeepsWhatAContainerUses(t *testing.T) {
	reg := newRegistry(t)
	reg.push(t, "app:1", testImage(t, "app", ""))
	e := newEnv(t, reg, envOptions{})
	id := e.pull(testDomain + "/app:1")
	chain := e.image(id).ChainIDs

	sb, ctr := runtime.NewID(), runtime.NewID()
	rec := runtime.Recorder{Journal: e.j}
	ctx := context.Background()
	if _, err := rec.Record(ctx,
		runtime.Event{SandboxID: sb, Payload: &events.SandboxCreating{Config: &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"}}}},
		runtime.Event{SandboxID: sb, Payload: &events.SandboxReady{Pid: 1}},
		runtime.Event{SandboxID: sb, ContainerID: ctr, Payload: &events.ContainerCreating{
			Config:  &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "c"}},
			ImageId: id, Image: &runtimeapi.ImageSpec{Image: id}}},
	); err != nil {
		t.Fatal(err)
	}

	if err := e.svc.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.proj.Image(id); ok {
		t.Fatal("image still listed")
	}
	if _, err := e.store.Lowers(chain); err != nil {
		t.Fatalf("the container's snapshots went with the image: %v", err)
	}
	// A periodic collection keeps them too.
	if _, err := e.svc.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Lowers(chain); err != nil {
		t.Fatalf("a collection removed a container's snapshots: %v", err)
	}

	if _, err := rec.Record(ctx, runtime.Event{SandboxID: sb, ContainerID: ctr, Payload: &events.ContainerRemoved{Reason: "test"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range chain {
		if exists(t, e.snapshotPath(c)) {
			t.Errorf("snapshot %s survived its last user", c)
		}
	}
}

// TestConcurrentPullsMovingATag: pulls of one tag race while the tag
// moves between two images. Every batch the aggregate appends must fold
// (env.close checks the projection refused none), and the tag ends on
// exactly one image.
func TestConcurrentPullsMovingATag(t *testing.T) {
	reg := newRegistry(t)
	a, b := testImage(t, "a", ""), testImage(t, "b", "")
	reg.push(t, "app:moving", a)
	reg.push(t, "app:a", a)
	reg.push(t, "app:b", b)
	e := newEnv(t, reg, envOptions{})

	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 6; i++ {
				ref := testDomain + "/app:moving"
				switch (w + i) % 3 {
				case 1:
					ref = testDomain + "/app:a"
				case 2:
					ref = testDomain + "/app:b"
				}
				if _, err := e.svc.Pull(context.Background(), ref, nil); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < 6; i++ {
		if i%2 == 0 {
			reg.push(t, "app:moving", b)
		} else {
			reg.push(t, "app:moving", a)
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	holders := 0
	for _, img := range e.proj.ListImages(nil) {
		if containsName(img, "registry.test/app:moving") {
			holders++
		}
	}
	if holders != 1 {
		t.Errorf("the tag is on %d images, want 1", holders)
	}
}

func TestPinnedAndVerboseInfo(t *testing.T) {
	reg := newRegistry(t)
	pause, app := testImage(t, "pause", "65535:65535"), testImage(t, "app", "")
	reg.push(t, "pause:3.10", pause)
	reg.push(t, "app:1", app)
	e := newEnv(t, reg, envOptions{sandboxImage: testDomain + "/pause:3.10"})
	pauseID, appID := e.pull(testDomain+"/pause:3.10"), e.pull(testDomain+"/app:1")
	if !e.svc.Pinned(e.image(pauseID)) || e.svc.Pinned(e.image(appID)) {
		t.Errorf("pinned: pause %v app %v, want only the pod-sandbox-image", e.svc.Pinned(e.image(pauseID)), e.svc.Pinned(e.image(appID)))
	}

	var info struct {
		ID        string `json:"id"`
		Pinned    bool   `json:"pinned"`
		ImageSpec struct {
			Config struct{ User string } `json:"config"`
		} `json:"imageSpec"`
		Missing *struct{ Blobs, Snapshots []string } `json:"missing"`
	}
	mustJSON(t, e.svc.Info(e.image(pauseID))["info"], &info)
	if info.ID != pauseID || !info.Pinned || info.ImageSpec.Config.User != "65535:65535" || info.Missing != nil {
		t.Errorf("info = %+v", info)
	}

	// A snapshot deleted behind the store's back shows at once.
	chain := e.image(appID).ChainIDs
	if err := os.RemoveAll(e.snapshotPath(chain[1])); err != nil {
		t.Fatal(err)
	}
	info.Missing = nil
	mustJSON(t, e.svc.Info(e.image(appID))["info"], &info)
	if info.Missing == nil || !slices.Equal(info.Missing.Snapshots, []string{chain[1]}) {
		t.Errorf("missing snapshot not reported: %+v", info.Missing)
	}

	if _, err := New(Config{Store: e.store, Projection: e.proj, Recorder: runtime.Recorder{Journal: e.j}, SandboxImage: "Bad Ref"}); err == nil {
		t.Error("New accepted an unparsable pod-sandbox-image")
	}
}

// TestRestartRebuildsImagesAndReportsDamage: images come back from the
// journal; content deleted while the daemon was down is reported, not
// hidden; content no journal entry names (a pull that died before it was
// journalled) is collected; pulling a damaged image again repairs it.
func TestRestartRebuildsImagesAndReportsDamage(t *testing.T) {
	reg := newRegistry(t)
	a, b, orphan := testImage(t, "a", "1002"), testImage(t, "b", ""), testImage(t, "orphan", "")
	reg.push(t, "a:1", a)
	reg.push(t, "b:1", b)
	reg.push(t, "orphan:1", orphan)
	e := newEnv(t, reg, envOptions{})
	aID, bID := e.pull(testDomain+"/a:1"), e.pull(testDomain+"/b:1")
	before := e.image(aID)

	// The orphan: complete on disk, never journalled (a crash between the
	// store's pull and the append).
	p, err := e.store.Pull(context.Background(), testDomain+"/orphan:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Release()
	orphanBlobs := []string{p.ManifestDigest, p.ID}

	e.close()
	layers, err := a.Layers()
	if err != nil {
		t.Fatal(err)
	}
	aLayer := digestOf(t, layers[1].Digest)
	if err := os.Remove(e.blobPath(aLayer)); err != nil {
		t.Fatal(err)
	}
	e.open()

	after := e.image("registry.test/a:1")
	if after.ID != aID || !slices.Equal(after.Names, before.Names) || after.UID == nil || *after.UID != 1002 {
		t.Errorf("image a after restart = %+v, before %+v", after, before)
	}
	if e.image("registry.test/b:1").ID != bID {
		t.Error("image b lost")
	}
	damaged, err := e.svc.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(damaged) != 1 || damaged[0].ID != aID || !slices.Equal(damaged[0].Missing.Blobs, []string{aLayer}) {
		t.Errorf("damage = %+v, want image a missing layer %s", damaged, aLayer)
	}
	for _, d := range orphanBlobs {
		if exists(t, e.blobPath(d)) {
			t.Errorf("the unjournalled pull's blob %s survived the start-up collection", d)
		}
	}
	for _, c := range p.ChainIDs[1:] { // the bottom layer may be shared
		if exists(t, e.snapshotPath(c)) {
			t.Errorf("the unjournalled pull's snapshot %s survived", c)
		}
	}
	var info struct {
		Missing *struct{ Blobs []string } `json:"missing"`
	}
	mustJSON(t, e.svc.Info(e.image(aID))["info"], &info)
	if info.Missing == nil || !slices.Equal(info.Missing.Blobs, []string{aLayer}) {
		t.Errorf("verbose status hides the damage: %+v", info.Missing)
	}

	// Pulling again fetches what is missing.
	e.pull(testDomain + "/a:1")
	info.Missing = nil
	mustJSON(t, e.svc.Info(e.image(aID))["info"], &info)
	if info.Missing != nil {
		t.Errorf("still missing after a new pull: %+v", info.Missing)
	}
}

func TestFsInfo(t *testing.T) {
	reg := newRegistry(t)
	reg.push(t, "app:1", testImage(t, "app", ""))
	e := newEnv(t, reg, envOptions{})
	e.pull(testDomain + "/app:1")
	layer := filepath.Join(e.layout.ContainerDir("c1"), "upper")
	if err := os.MkdirAll(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layer, "data"), make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	imgs, ctrs, err := e.svc.FsInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if imgs.Mountpoint != e.store.Root() || imgs.UsedBytes == 0 || imgs.InodesUsed == 0 || imgs.Timestamp.IsZero() {
		t.Errorf("image filesystem = %+v", imgs)
	}
	if ctrs.Mountpoint != filepath.Dir(e.layout.ContainerDir("c1")) || ctrs.UsedBytes < 256<<10 || ctrs.InodesUsed < 4 {
		t.Errorf("container filesystem = %+v", ctrs)
	}
}
