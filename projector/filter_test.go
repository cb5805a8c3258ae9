package projector

import (
	"slices"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

// filterFixture: sandboxes aaa1 (Ready, app=web), aab2 (Ready, app=db),
// bcd3 (NotReady, app=web) and zzz9 (Creating, invisible); containers
// in aaa1: c-run (Running), c-exit (Exited), c-new (Created), c-tmp
// (Creating, invisible); in aab2: d-run (Running); in bcd3: e-exit.
func filterFixture(t testing.TB) *fixture {
	f := newFixture(t)
	pod := func(id, app string) {
		cr := sandboxCreating(id)
		cr.Config.Labels = map[string]string{"app": app, "pod": id}
		f.must(id, "", cr)
		f.must(id, "", sandboxReady(id))
	}
	ctr := func(sid, id, app string, st ContainerState) {
		cr := containerCreating(id)
		cr.Config.Labels = map[string]string{"app": app, "ctr": id}
		f.must(sid, id, cr)
		if st == ContainerCreating {
			return
		}
		f.must("", id, &events.ContainerCreated{})
		if st == ContainerCreated {
			return
		}
		f.must("", id, &events.ContainerStarted{})
		if st == ContainerExited {
			f.must("", id, &events.ContainerExited{})
		}
	}
	pod("aaa1", "web")
	ctr("aaa1", "c-run", "web", ContainerRunning)
	pod("aab2", "db")
	ctr("aab2", "d-run", "db", ContainerRunning)
	ctr("aaa1", "c-exit", "web", ContainerExited)
	pod("bcd3", "web")
	ctr("bcd3", "e-exit", "web", ContainerExited)
	f.must("bcd3", "", &events.SandboxStopped{})
	ctr("aaa1", "c-new", "web", ContainerCreated)
	ctr("aaa1", "c-tmp", "web", ContainerCreating)
	f.must("zzz9", "", sandboxCreating("zzz9"))
	return f
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func TestListSandboxes(t *testing.T) {
	s := filterFixture(t).s
	ready := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}
	notReady := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}
	for _, tc := range []struct {
		name string
		f    *runtimeapi.PodSandboxFilter
		want []string
	}{
		{"nil filter: all visible, creation order", nil, []string{"aaa1", "aab2", "bcd3"}},
		{"empty filter", &runtimeapi.PodSandboxFilter{}, []string{"aaa1", "aab2", "bcd3"}},
		{"exact id", &runtimeapi.PodSandboxFilter{Id: "aab2"}, []string{"aab2"}},
		{"unique prefix", &runtimeapi.PodSandboxFilter{Id: "b"}, []string{"bcd3"}},
		{"ambiguous prefix", &runtimeapi.PodSandboxFilter{Id: "aa"}, []string{}},
		{"unknown id", &runtimeapi.PodSandboxFilter{Id: "nope"}, []string{}},
		{"creating is invisible by id", &runtimeapi.PodSandboxFilter{Id: "zzz9"}, []string{}},
		{"creating is invisible by prefix", &runtimeapi.PodSandboxFilter{Id: "z"}, []string{}},
		{"ready", &runtimeapi.PodSandboxFilter{State: ready}, []string{"aaa1", "aab2"}},
		{"not ready", &runtimeapi.PodSandboxFilter{State: notReady}, []string{"bcd3"}},
		{"label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "web"}}, []string{"aaa1", "bcd3"}},
		{"labels all must match", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "web", "pod": "bcd3"}}, []string{"bcd3"}},
		{"label value mismatch", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "cache"}}, []string{}},
		{"empty value needs the key", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"missing": ""}}, []string{}},
		{"id and state", &runtimeapi.PodSandboxFilter{Id: "aaa1", State: notReady}, []string{}},
		{"state and label", &runtimeapi.PodSandboxFilter{State: ready, LabelSelector: map[string]string{"app": "web"}}, []string{"aaa1"}},
	} {
		got := ids(s.ListSandboxes(tc.f), func(sb *Sandbox) string { return sb.ID })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestListContainers(t *testing.T) {
	s := filterFixture(t).s
	st := func(v runtimeapi.ContainerState) *runtimeapi.ContainerStateValue {
		return &runtimeapi.ContainerStateValue{State: v}
	}
	for _, tc := range []struct {
		name string
		f    *runtimeapi.ContainerFilter
		want []string
	}{
		{"nil filter: all visible, creation order", nil, []string{"c-run", "d-run", "c-exit", "e-exit", "c-new"}},
		{"exact id", &runtimeapi.ContainerFilter{Id: "c-exit"}, []string{"c-exit"}},
		{"unique prefix", &runtimeapi.ContainerFilter{Id: "d"}, []string{"d-run"}},
		{"ambiguous prefix", &runtimeapi.ContainerFilter{Id: "c-"}, []string{}},
		{"creating is invisible", &runtimeapi.ContainerFilter{Id: "c-tmp"}, []string{}},
		{"running", &runtimeapi.ContainerFilter{State: st(runtimeapi.ContainerState_CONTAINER_RUNNING)}, []string{"c-run", "d-run"}},
		{"exited", &runtimeapi.ContainerFilter{State: st(runtimeapi.ContainerState_CONTAINER_EXITED)}, []string{"c-exit", "e-exit"}},
		{"created", &runtimeapi.ContainerFilter{State: st(runtimeapi.ContainerState_CONTAINER_CREATED)}, []string{"c-new"}},
		{"unknown", &runtimeapi.ContainerFilter{State: st(runtimeapi.ContainerState_CONTAINER_UNKNOWN)}, []string{}},
		{"pod exact", &runtimeapi.ContainerFilter{PodSandboxId: "aaa1"}, []string{"c-run", "c-exit", "c-new"}},
		{"pod prefix", &runtimeapi.ContainerFilter{PodSandboxId: "bc"}, []string{"e-exit"}},
		{"pod ambiguous prefix", &runtimeapi.ContainerFilter{PodSandboxId: "aa"}, []string{}},
		{"pod unknown", &runtimeapi.ContainerFilter{PodSandboxId: "q"}, []string{}},
		{"pod and state", &runtimeapi.ContainerFilter{PodSandboxId: "aaa1", State: st(runtimeapi.ContainerState_CONTAINER_RUNNING)}, []string{"c-run"}},
		{"label", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"app": "db"}}, []string{"d-run"}},
		{"labels all must match", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"app": "web", "ctr": "c-new"}}, []string{"c-new"}},
		{"label mismatch", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"app": "web", "ctr": "d-run"}}, []string{}},
		{"id in its pod", &runtimeapi.ContainerFilter{Id: "c-run", PodSandboxId: "aaa1"}, []string{"c-run"}},
		{"id in another pod", &runtimeapi.ContainerFilter{Id: "c-run", PodSandboxId: "aab2"}, []string{}},
		{"id with a wrong state", &runtimeapi.ContainerFilter{Id: "c-run", State: st(runtimeapi.ContainerState_CONTAINER_EXITED)}, []string{}},
		{"id with a matching label", &runtimeapi.ContainerFilter{Id: "c-run", LabelSelector: map[string]string{"ctr": "c-run"}}, []string{"c-run"}},
	} {
		got := ids(s.ListContainers(tc.f), func(c *Container) string { return c.ID })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestListImages(t *testing.T) {
	f := newFixture(t)
	for _, n := range []int{3, 1, 2} {
		f.must("", "", imagePulled(imageID(n)))
	}
	f.must("", "", &events.ImageTagged{ImageId: imageID(1), Name: "docker.io/library/busybox:latest"})
	f.must("", "", imagePulled(imageID(3))) // a refresh keeps its place
	for _, tc := range []struct {
		name string
		f    *runtimeapi.ImageFilter
		want []string
	}{
		{"nil: all, first-pull order", nil, []string{imageID(3), imageID(1), imageID(2)}},
		{"empty spec", &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{}}, []string{imageID(3), imageID(1), imageID(2)}},
		{"by id", &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: imageID(2)}}, []string{imageID(2)}},
		{"by name", &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "busybox"}}, []string{imageID(1)}},
		{"unknown", &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "nginx"}}, []string{}},
	} {
		got := ids(f.s.ListImages(tc.f), func(img *Image) string { return img.ID })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
