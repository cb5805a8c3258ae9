package images

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/logbook-cri/logbook/image"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime"
)

func id(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func pulledOf(n int, name, manifest string) *image.Pulled {
	repo := name[:len(name)-len(":1")]
	return &image.Pulled{ID: id(n), ManifestDigest: manifest, Name: name, RepoDigest: repo + "@" + manifest,
		Size: 100, Config: []byte(`{"config":{}}`), ChainIDs: []string{id(1000 + n)}}
}

// describe renders events as "type(image,name)" for comparison.
func describe(evs []runtime.Event) []string {
	var out []string
	for _, e := range evs {
		switch p := e.Payload.(type) {
		case *events.ImagePulled:
			out = append(out, fmt.Sprintf("pulled(%s,%s)", p.GetImageId()[len(p.GetImageId())-2:], p.GetManifestDigest()))
		case *events.ImageTagged:
			out = append(out, fmt.Sprintf("tagged(%s,%s)", p.GetImageId()[len(p.GetImageId())-2:], p.GetName()))
		case *events.ImageUntagged:
			out = append(out, fmt.Sprintf("untagged(%s,%s)", p.GetImageId()[len(p.GetImageId())-2:], p.GetName()))
		default:
			out = append(out, fmt.Sprintf("%T", p))
		}
		if e.SandboxID != "" || e.ContainerID != "" {
			out = append(out, "ids set!")
		}
	}
	return out
}

func TestPlanPull(t *testing.T) {
	const tag, dig = "r.test/app:1", "r.test/app@sha256:m1"
	p := pulledOf(1, tag, "sha256:m1")
	names := namesOf(p)
	if !reflect.DeepEqual(names, []string{tag, dig}) {
		t.Fatalf("names = %v", names)
	}
	present := &projector.Image{ID: id(1), ManifestDigest: "sha256:m1", Names: []string{dig, tag}}
	cases := []struct {
		name   string
		cur    *projector.Image
		owners map[string]string
		want   []string
	}{
		{"new image, free names", nil, nil,
			[]string{"pulled(01,sha256:m1)", "tagged(01," + tag + ")", "tagged(01," + dig + ")"}},
		{"present with both names: nothing", present, map[string]string{tag: id(1), dig: id(1)}, nil},
		{"present, tag lost to another image meanwhile", present, map[string]string{tag: id(2), dig: id(1)},
			[]string{"untagged(02," + tag + ")", "tagged(01," + tag + ")"}},
		{"new image, tag moves from the old one", nil, map[string]string{tag: id(2)},
			[]string{"pulled(01,sha256:m1)", "untagged(02," + tag + ")", "tagged(01," + tag + ")", "tagged(01," + dig + ")"}},
		{"present through another manifest: refreshed", &projector.Image{ID: id(1), ManifestDigest: "sha256:m0", Names: []string{tag}},
			map[string]string{tag: id(1)},
			[]string{"pulled(01,sha256:m1)", "tagged(01," + dig + ")"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := describe(planPull(p, tc.cur, names, tc.owners))
			if !slices.Equal(got, tc.want) {
				t.Errorf("planPull = %v\nwant %v", got, tc.want)
			}
		})
	}

	// The pulled event carries everything the projection shows.
	evs := planPull(p, nil, names, nil)
	pe := evs[0].Payload.(*events.ImagePulled)
	if pe.GetSize() != 100 || string(pe.GetConfig()) != string(p.Config) || !slices.Equal(pe.GetChainIds(), p.ChainIDs) {
		t.Errorf("image.pulled = %v", pe)
	}
}

func TestNamesOfDigestPull(t *testing.T) {
	p := &image.Pulled{Name: "r.test/app@sha256:m1", RepoDigest: "r.test/app@sha256:m1"}
	if got := namesOf(p); !slices.Equal(got, []string{"r.test/app@sha256:m1"}) {
		t.Errorf("namesOf(digest pull) = %v", got)
	}
}

func TestPullKeys(t *testing.T) {
	got := pullKeys(id(3), []string{"r.test/b:1", "r.test/a@sha256:x"},
		map[string]string{"r.test/b:1": id(1), "r.test/a@sha256:x": id(3)})
	// Every key once (image 3 is both the pull's and an owner), in byte
	// order: "image-name/" sorts before "image/".
	want := []string{nameKey("r.test/a@sha256:x"), nameKey("r.test/b:1"), imageKey(id(1)), imageKey(id(3))}
	if !slices.Equal(got, want) {
		t.Errorf("pullKeys = %v\nwant %v", got, want)
	}
	if !slices.IsSorted(got) {
		t.Error("keys not sorted")
	}
}

func TestKeepRefs(t *testing.T) {
	imgs := []*projector.Image{
		{ID: id(1), ManifestDigest: "sha256:m1", ChainIDs: []string{id(11), id(12)}},
		{ID: id(2), ManifestDigest: "sha256:m2", ChainIDs: []string{id(21)}},
	}
	ctrs := []*projector.Container{
		{ID: "c1", ImageID: id(1)}, // image present
		{ID: "c2", ImageID: id(9)}, // image removed: kept by its config
		{ID: "c3"},                 // no image recorded
	}
	r := keepRefs(imgs, ctrs)
	wantBlobs := []string{"sha256:m1", id(1), "sha256:m2", id(2), id(1), id(9)}
	if !slices.Equal(r.Blobs, wantBlobs) {
		t.Errorf("blobs = %v\nwant %v", r.Blobs, wantBlobs)
	}
	if !slices.Equal(r.ChainIDs, []string{id(11), id(12), id(21)}) {
		t.Errorf("chain IDs = %v", r.ChainIDs)
	}
	if r := keepRefs(nil, nil); len(r.Blobs)+len(r.ChainIDs) != 0 {
		t.Errorf("nothing to keep: %+v", r)
	}
}

func TestPinnedBy(t *testing.T) {
	img := &projector.Image{Names: []string{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause@sha256:ab"}}
	cases := []struct {
		pinned string
		want   bool
	}{
		{"registry.k8s.io/pause:3.9", true},
		{"registry.k8s.io/pause@sha256:ab", true},
		{"registry.k8s.io/pause:3.10", false},
		{"k8s.gcr.io/pause:3.9", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := pinnedBy(img, tc.pinned); got != tc.want {
			t.Errorf("pinnedBy(%q) = %v, want %v", tc.pinned, got, tc.want)
		}
	}
}

func TestInfoOf(t *testing.T) {
	img := &projector.Image{ID: id(1), ManifestDigest: "sha256:m1", Names: []string{"r.test/a:1"}, ChainIDs: []string{id(11)},
		Size: 42, Config: []byte(`{"architecture":"amd64","config":{"User":"1002"}}`)}
	info := infoOf(img, true, image.Missing{}, nil)
	var got map[string]any
	mustJSON(t, info["info"], &got)
	if got["id"] != id(1) || got["pinned"] != true || got["size"] != float64(42) {
		t.Errorf("info = %v", got)
	}
	spec, _ := got["imageSpec"].(map[string]any)
	if spec["architecture"] != "amd64" {
		t.Errorf("imageSpec = %v", got["imageSpec"])
	}
	if _, ok := got["missing"]; ok {
		t.Errorf("complete image reported missing: %v", got["missing"])
	}

	info = infoOf(img, false, image.Missing{Blobs: []string{"sha256:b"}, Snapshots: []string{id(11)}}, nil)
	mustJSON(t, info["info"], &got)
	miss, _ := got["missing"].(map[string]any)
	if miss == nil || miss["note"] != missingNote || fmt.Sprint(miss["blobs"]) != "[sha256:b]" || fmt.Sprint(miss["snapshots"]) != "["+id(11)+"]" {
		t.Errorf("missing = %v", got["missing"])
	}

	// An unreadable store is reported too; a config that is not JSON is
	// left out rather than breaking the info.
	img.Config = []byte("not json")
	info = infoOf(img, false, image.Missing{}, fmt.Errorf("%w: stored manifest garbled", image.ErrStorage))
	got = nil
	mustJSON(t, info["info"], &got)
	miss, _ = got["missing"].(map[string]any)
	if miss == nil || miss["error"] == nil {
		t.Errorf("check error not reported: %v", got)
	}
	if _, ok := got["imageSpec"]; ok {
		t.Errorf("invalid config embedded: %v", got["imageSpec"])
	}
}
