package rig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	created = runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT
	started = runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT
	stopped = runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT
)

func ev(seq uint64, t runtimeapi.ContainerEventType, id string) Event {
	return Event{Seq: seq, Type: t, ID: id, State: "x"}
}

func TestCompare(t *testing.T) {
	want := []Event{ev(1, created, "p"), ev(1, started, "p"), ev(2, created, "c"), ev(3, stopped, "c")}
	cases := []struct {
		name string
		got  []Event
		want []string // substrings, one per problem
	}{
		{"equal", want, nil},
		{"missing", []Event{want[0], want[1], want[3]}, []string{"missing: #2"}},
		{"duplicated", []Event{want[0], want[1], want[2], want[2], want[3]}, []string{"duplicated: #2"}},
		{"unexpected", append(append([]Event(nil), want...), ev(4, stopped, "d")), []string{"unexpected: #4"}},
		{"out of order", []Event{want[0], want[1], want[3], want[2]}, []string{"out of order: #2"}},
		{"same record, other order", []Event{want[1], want[0], want[2], want[3]}, []string{"order differs at message 0"}},
		{"different state", []Event{want[0], want[1], want[2], {Seq: 3, Type: stopped, ID: "c", State: "y"}},
			[]string{"missing: #3", "unexpected: #3"}},
		{"nothing received", nil, []string{"missing: #1", "missing: #1", "missing: #2", "missing: #3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Compare(tc.got, want, 10)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d problems like %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d: %q lacks %q", i, got[i], tc.want[i])
				}
			}
		})
	}
	if got := Compare(nil, want, 2); len(got) != 3 || got[2] != "... and more" {
		t.Errorf("limited to 2: %q", got)
	}
}

func TestSummarize(t *testing.T) {
	pod := &runtimeapi.PodSandboxStatus{Id: "p", State: runtimeapi.PodSandboxState_SANDBOX_READY}
	ctr := &runtimeapi.ContainerStatus{Id: "c", State: runtimeapi.ContainerState_CONTAINER_EXITED, ExitCode: 137, Reason: "OOMKilled"}
	cases := []struct {
		m    *runtimeapi.ContainerEventResponse
		want Event
	}{
		{&runtimeapi.ContainerEventResponse{ContainerId: "p", ContainerEventType: started, PodSandboxStatus: pod},
			Event{7, started, "p", "SANDBOX_READY"}},
		{&runtimeapi.ContainerEventResponse{ContainerId: "c", ContainerEventType: stopped, PodSandboxStatus: pod, ContainersStatuses: []*runtimeapi.ContainerStatus{ctr}},
			Event{7, stopped, "c", "CONTAINER_EXITED 137 OOMKilled"}},
		{&runtimeapi.ContainerEventResponse{ContainerId: "gone", ContainerEventType: stopped, PodSandboxStatus: pod},
			Event{7, stopped, "gone", "absent"}},
	}
	for _, tc := range cases {
		if got := Summarize(tc.m, 7); got != tc.want {
			t.Errorf("Summarize = %+v, want %+v", got, tc.want)
		}
	}
}

func TestChainIDs(t *testing.T) {
	// The second chain ID is sha256 of "<first> <second diff ID>", as
	// `printf '%s' "sha256:a9f3... sha256:2b8e..." | sha256sum` computes it.
	diff := []string{
		"sha256:a9f3e3c6bb0f9dbd2e3ec5d7f0bd39e0ad6c1a2b8e0c2d8e9b6c3f1b2a0d4e5f",
		"sha256:2b8e0c2d8e9b6c3f1b2a0d4e5fa9f3e3c6bb0f9dbd2e3ec5d7f0bd39e0ad6c1a",
	}
	got := ChainIDs(diff)
	want := []string{diff[0], "sha256:69f6ae8ea52bf239030aafb2426ed47cfd6f64ed41097d8d70411f2179bb5bbf"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ChainIDs = %q, want %q", got, want)
	}
	if got := ChainIDs(nil); len(got) != 0 {
		t.Errorf("ChainIDs(nil) = %q", got)
	}
}

func TestReadLeases(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"10.1.0.2":           "aaaa\r\neth0",
		"10.1.0.3":           "bbbb\neth0\n",
		"last_reserved_ip.0": "10.1.0.3",
		"lock":               "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadLeases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"10.1.0.2": "aaaa", "10.1.0.3": "bbbb"}; !reflect.DeepEqual(got, want) {
		t.Errorf("leases %v, want %v", got, want)
	}
	if got, err := ReadLeases(filepath.Join(dir, "absent")); err != nil || len(got) != 0 {
		t.Errorf("a missing directory: %v %v", got, err)
	}
}

func TestIdsIn(t *testing.T) {
	id := strings.Repeat("ab", 32)
	if got := idsIn("/run/x/bundles/" + id + "/rootfs"); !reflect.DeepEqual(got, []string{id}) {
		t.Errorf("idsIn = %q", got)
	}
	if got := idsIn("/run/x/pause"); len(got) != 0 {
		t.Errorf("idsIn(pause) = %q", got)
	}
}
