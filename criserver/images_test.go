package criserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime/images"
)

// fakeImages records the calls of the image adapters and answers from
// fields.
type fakeImages struct {
	mu      sync.Mutex
	pulls   []string      // refs, guarded by mu
	auths   []*image.Auth // guarded by mu
	removes []string      // guarded by mu

	pullID  string
	pullErr error
	rmErr   error
	pinned  string // the image ID reported pinned
	fsImg   images.FsUsage
	fsCtr   images.FsUsage
	fsErr   error
}

func (f *fakeImages) Pull(ctx context.Context, ref string, auth *image.Auth) (string, error) {
	f.mu.Lock()
	f.pulls = append(f.pulls, ref)
	f.auths = append(f.auths, auth)
	f.mu.Unlock()
	return f.pullID, f.pullErr
}

func (f *fakeImages) Remove(ctx context.Context, ref string) error {
	f.mu.Lock()
	f.removes = append(f.removes, ref)
	f.mu.Unlock()
	return f.rmErr
}

func (f *fakeImages) Pinned(img *projector.Image) bool { return img.ID == f.pinned }

func (f *fakeImages) Info(img *projector.Image) map[string]string {
	return map[string]string{"info": `{"id":"` + img.ID + `"}`}
}

func (f *fakeImages) FsInfo(context.Context) (images.FsUsage, images.FsUsage, error) {
	return f.fsImg, f.fsCtr, f.fsErr
}

var _ Images = (*fakeImages)(nil)

func imageIDn(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// seedImages is a projection holding n images: image i is
// registry.test/img-i:1 (and its digest name), with User "1000+i".
func seedImages(t testing.TB, n int) *projector.Store {
	t.Helper()
	st := projector.NewStore(nil, nil)
	var recs []journal.Record
	add := func(m proto.Message) {
		typ, b, err := events.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, journal.Record{Seq: uint64(len(recs) + 1), Time: time.Now().UnixNano(), Type: string(typ), Payload: b})
	}
	for i := 0; i < n; i++ {
		id := imageIDn(i + 1)
		add(&events.ImagePulled{ImageId: id, ManifestDigest: imageIDn(100000 + i), Size: uint64(1000 + i),
			Config: []byte(fmt.Sprintf(`{"config":{"User":"%d"}}`, 1000+i)), ChainIds: []string{imageIDn(200000 + i)},
			Annotations: map[string]string{"a": "b"}})
		add(&events.ImageTagged{ImageId: id, Name: fmt.Sprintf("registry.test/img-%d:1", i)})
		add(&events.ImageTagged{ImageId: id, Name: fmt.Sprintf("registry.test/img-%d@%s", i, imageIDn(100000+i))})
	}
	st.ApplyRecords(recs)
	if st.Skipped() != 0 {
		t.Fatalf("seed refused %d records", st.Skipped())
	}
	return st
}

func serveImages(t testing.TB, f *fakeImages, proj *projector.Store) clients {
	t.Helper()
	return serve(t, Deps{Config: testConfig(t), Projection: proj, Images: f}, discard(), nil)
}

func TestPullImage(t *testing.T) {
	f := &fakeImages{pullID: imageIDn(7)}
	c := serveImages(t, f, seedImages(t, 0))
	resp, err := c.image.PullImage(context.Background(), &runtimeapi.PullImageRequest{
		Image:         &runtimeapi.ImageSpec{Image: "busybox"},
		Auth:          &runtimeapi.AuthConfig{Username: "u", Password: "p", Auth: "dTpw", IdentityToken: "it", RegistryToken: "rt", ServerAddress: "docker.io"},
		SandboxConfig: &runtimeapi.PodSandboxConfig{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetImageRef() != imageIDn(7) {
		t.Errorf("image_ref = %q", resp.GetImageRef())
	}
	if _, err := c.image.PullImage(context.Background(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "plain"}}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := image.Auth{Username: "u", Password: "p", Auth: "dTpw", IdentityToken: "it", RegistryToken: "rt"}
	if !slices.Equal(f.pulls, []string{"busybox", "plain"}) || f.auths[0] == nil || *f.auths[0] != want || f.auths[1] != nil {
		t.Errorf("pulls %v, auths %+v %+v", f.pulls, f.auths[0], f.auths[1])
	}
}

// TestImageErrorCodes: every class of image error reaches the client with
// its own code, never Unknown.
func TestImageErrorCodes(t *testing.T) {
	cases := []struct {
		err  error
		want codes.Code
	}{
		{image.ErrInvalidReference, codes.InvalidArgument},
		{image.ErrInvalidAuth, codes.InvalidArgument},
		{image.ErrInvalidImage, codes.InvalidArgument},
		{image.ErrNotFound, codes.NotFound},
		{image.ErrUnauthenticated, codes.Unauthenticated},
		{image.ErrUnavailable, codes.Unavailable},
		{image.ErrDigestMismatch, codes.Unavailable},
		{image.ErrClosed, codes.Unavailable},
		{fmt.Errorf("%w: %w", image.ErrDeadlineExceeded, context.DeadlineExceeded), codes.DeadlineExceeded},
		{image.ErrDeadlineExceeded, codes.DeadlineExceeded},
		{image.ErrCanceled, codes.Canceled},
		{image.ErrStorage, codes.Internal},
		{image.ErrLocked, codes.Internal},
	}
	f := &fakeImages{}
	c := serveImages(t, f, seedImages(t, 0))
	for _, tc := range cases {
		f.pullErr = fmt.Errorf("pull x: %w", tc.err)
		_, err := c.image.PullImage(context.Background(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "x"}})
		assertCode(t, err, tc.want, tc.err.Error())
		f.rmErr = f.pullErr
		_, err = c.image.RemoveImage(context.Background(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "x"}})
		assertCode(t, err, tc.want, tc.err.Error())
	}
	// A full disk under a storage error is a resource exhausted.
	if got := codeOf(fmt.Errorf("%w: write: %w", image.ErrStorage, errNoSpace())); got != codes.ResourceExhausted {
		t.Errorf("ENOSPC in the store: %v", got)
	}
}

func TestRemoveImage(t *testing.T) {
	f := &fakeImages{}
	c := serveImages(t, f, seedImages(t, 1))
	for _, ref := range []string{imageIDn(1), "0000000000000000000000000000000000000000000000000000000000000000"} {
		if _, err := c.image.RemoveImage(context.Background(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
			t.Errorf("remove %s: %v", ref, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.removes) != 2 || f.removes[0] != imageIDn(1) {
		t.Errorf("removes = %v", f.removes)
	}
}

func TestImageStatus(t *testing.T) {
	f := &fakeImages{pinned: imageIDn(2)}
	c := serveImages(t, f, seedImages(t, 3))
	ctx := context.Background()

	// Unknown: an empty answer, not an error.
	resp, err := c.image.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "registry.test/absent:1"}})
	if err != nil || resp.GetImage() != nil {
		t.Fatalf("unknown image: %v, %v", resp, err)
	}

	// The same message whatever it is looked up by.
	var first *runtimeapi.Image
	for _, ref := range []string{imageIDn(2), "registry.test/img-1:1", "registry.test/img-1@" + imageIDn(100001)} {
		resp, err := c.image.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err != nil {
			t.Fatal(err)
		}
		img := resp.GetImage()
		if img.GetId() != imageIDn(2) || !img.GetPinned() || img.GetUid().GetValue() != 1001 || img.GetSize() != 1001 ||
			!slices.Equal(img.GetRepoTags(), []string{"registry.test/img-1:1"}) || len(resp.GetInfo()) != 0 {
			t.Errorf("status by %s = %v (info %v)", ref, img, resp.GetInfo())
		}
		if first == nil {
			first = img
		} else if !proto.Equal(first, img) {
			t.Errorf("status by %s differs: %v vs %v", ref, img, first)
		}
	}
	resp, err = c.image.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: imageIDn(1)}, Verbose: true})
	if err != nil || resp.GetImage().GetPinned() || resp.GetInfo()["info"] != `{"id":"`+imageIDn(1)+`"}` {
		t.Errorf("verbose status of an unpinned image: %v, %v", resp, err)
	}
}

func TestListAndStreamImages(t *testing.T) {
	const n = 2*imagesPerMessage + 7
	f := &fakeImages{pinned: imageIDn(5)}
	c := serveImages(t, f, seedImages(t, n))
	ctx := context.Background()

	list, err := c.image.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetImages()) != n {
		t.Fatalf("%d images listed, want %d", len(list.GetImages()), n)
	}
	for i, img := range list.GetImages() {
		if img.GetId() != imageIDn(i+1) || img.GetPinned() != (i+1 == 5) {
			t.Fatalf("image %d = %v", i, img)
		}
	}

	stream, err := c.image.StreamImages(ctx, &runtimeapi.StreamImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []*runtimeapi.Image
	var sizes []int
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(resp.GetImages()))
		got = append(got, resp.GetImages()...)
	}
	if !slices.Equal(sizes, []int{imagesPerMessage, imagesPerMessage, 7}) {
		t.Errorf("pages of %v", sizes)
	}
	if !slices.EqualFunc(got, list.GetImages(), func(a, b *runtimeapi.Image) bool { return proto.Equal(a, b) }) {
		t.Error("the stream differs from the list")
	}

	filter := &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "registry.test/img-3:1"}}
	list, err = c.image.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: filter})
	if err != nil || len(list.GetImages()) != 1 || list.GetImages()[0].GetId() != imageIDn(4) {
		t.Errorf("filtered list = %v, %v", list, err)
	}
	stream, err = c.image.StreamImages(ctx, &runtimeapi.StreamImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "registry.test/none:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("an empty list streamed %v", err)
	}
}

func TestImageFsInfo(t *testing.T) {
	at := time.Unix(1700000000, 5)
	f := &fakeImages{
		fsImg: images.FsUsage{Mountpoint: "/var/lib/logbook/image", Timestamp: at, UsedBytes: 10, InodesUsed: 2},
		fsCtr: images.FsUsage{Mountpoint: "/var/lib/logbook/containers", Timestamp: at, UsedBytes: 30, InodesUsed: 4},
	}
	c := serveImages(t, f, seedImages(t, 0))
	resp, err := c.image.ImageFsInfo(context.Background(), &runtimeapi.ImageFsInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := &runtimeapi.ImageFsInfoResponse{
		ImageFilesystems: []*runtimeapi.FilesystemUsage{{Timestamp: at.UnixNano(),
			FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: "/var/lib/logbook/image"}, UsedBytes: &runtimeapi.UInt64Value{Value: 10}, InodesUsed: &runtimeapi.UInt64Value{Value: 2}}},
		ContainerFilesystems: []*runtimeapi.FilesystemUsage{{Timestamp: at.UnixNano(),
			FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: "/var/lib/logbook/containers"}, UsedBytes: &runtimeapi.UInt64Value{Value: 30}, InodesUsed: &runtimeapi.UInt64Value{Value: 4}}},
	}
	if !proto.Equal(resp, want) {
		t.Errorf("ImageFsInfo = %v\nwant %v", resp, want)
	}
	f.fsErr = fmt.Errorf("usage: %w", image.ErrStorage)
	_, err = c.image.ImageFsInfo(context.Background(), &runtimeapi.ImageFsInfoRequest{})
	assertCode(t, err, codes.Internal, "usage")
}

// TestImageServiceUnwired: without the aggregate every image method says
// so.
func TestImageServiceUnwired(t *testing.T) {
	c := serve(t, Deps{Config: testConfig(t)}, discard(), nil)
	ctx := context.Background()
	spec := &runtimeapi.ImageSpec{Image: "x"}
	_, err := c.image.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
	assertCode(t, err, codes.Unimplemented, "ImageStatus")
	_, err = c.image.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: spec})
	assertCode(t, err, codes.Unimplemented, "RemoveImage")
	_, err = c.image.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	assertCode(t, err, codes.Unimplemented, "ImageFsInfo")
	stream, err := c.image.StreamImages(ctx, &runtimeapi.StreamImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	assertCode(t, err, codes.Unimplemented, "StreamImages")
}

func errNoSpace() error { return syscall.ENOSPC }
