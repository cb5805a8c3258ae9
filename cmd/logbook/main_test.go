package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/journal/remote"
)

const (
	podID = "aaaa000000000000000000000000000000000000000000000000000000000001"
	ctrID = "cccc000000000000000000000000000000000000000000000000000000000002"
)

func rec(t *testing.T, sb, ct string, m proto.Message) journal.Record {
	t.Helper()
	typ, b, err := events.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return journal.Record{Type: string(typ), SandboxID: sb, ContainerID: ct, Payload: b}
}

// lifecycle is a pod with one container that runs and exits with 3.
func lifecycle(t *testing.T) []journal.Record {
	sbCfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "prod", Uid: "u1", Attempt: 1}}
	ctCfg := &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "nginx"}, Image: &runtimeapi.ImageSpec{Image: "nginx:1"}}
	return []journal.Record{
		rec(t, podID, "", &events.SandboxCreating{Config: sbCfg, NetnsPath: "/run/netns/x", CreatedAt: 1}),
		rec(t, podID, "", &events.SandboxReady{Pid: 10, Network: &events.SandboxNetwork{Ip: "10.88.0.2"}}),
		rec(t, podID, ctrID, &events.ContainerCreating{Config: ctCfg, ImageId: "sha256:abc", Image: ctCfg.Image, CreatedAt: 2}),
		rec(t, podID, ctrID, &events.ContainerCreated{Pid: 11}),
		rec(t, podID, ctrID, &events.ContainerStarted{Pid: 11, StartedAt: 3}),
		rec(t, podID, ctrID, &events.ContainerExited{ExitCode: 3, Reason: "Error", FinishedAt: 4}),
	}
}

func newJournal(t *testing.T, recs ...journal.Record) (*journal.Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	if len(recs) > 0 {
		if _, err := j.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	return j, path
}

func fileJournal(t *testing.T, recs ...journal.Record) string {
	j, path := newJournal(t, recs...)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestDumpTableAndFilters(t *testing.T) {
	path := fileJournal(t, lifecycle(t)...)
	out, err := runCLI(t, "--file", path, "journal", "dump")
	if err != nil {
		t.Fatal(err, out)
	}
	for _, want := range []string{"sandbox.creating", "prod/web", "nginx", "container.exited", "exit=3 reason=Error", "ip=10.88.0.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, "--file", path, "journal", "dump", "--type", "container.", "--from", "4")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "sandbox.") || strings.Contains(out, "container.creating") || !strings.Contains(out, "container.created") {
		t.Errorf("filtered dump wrong:\n%s", out)
	}
	// Names of objects created before --from still print (seeded from the state).
	if !strings.Contains(out, "prod/web") || !strings.Contains(out, "nginx") {
		t.Errorf("names lost with --from:\n%s", out)
	}
	out, _ = runCLI(t, "--file", path, "journal", "dump", "--pod", "bbbb")
	if strings.Contains(out, "sandbox.") {
		t.Errorf("--pod of another pod printed records:\n%s", out)
	}
}

func TestDumpJSON(t *testing.T) {
	path := fileJournal(t, lifecycle(t)...)
	out, err := runCLI(t, "--file", path, "journal", "dump", "--json", "--type", "container.exited")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Seq     uint64
		Type    string
		Payload struct {
			ExitCode int    `json:"exitCode"`
			Reason   string `json:"reason"`
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if r.Seq != 6 || r.Type != "container.exited" || r.Payload.ExitCode != 3 || r.Payload.Reason != "Error" {
		t.Fatalf("json record %+v", r)
	}
}

func TestReplayAt(t *testing.T) {
	path := fileJournal(t, lifecycle(t)...)
	out, err := runCLI(t, "--file", path, "journal", "replay", "--at", "5")
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.Contains(out, "state at seq 5") || !strings.Contains(out, "Running") || strings.Contains(out, "Exited") {
		t.Fatalf("replay at 5 should show the container running:\n%s", out)
	}
	out, err = runCLI(t, "--file", path, "journal", "replay", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Seq        uint64
		Containers []struct {
			State  string
			Status struct {
				ExitCode int `json:"exitCode"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Seq != 6 || len(doc.Containers) != 1 || doc.Containers[0].State != "Exited" || doc.Containers[0].Status.ExitCode != 3 {
		t.Fatalf("replay json %+v", doc)
	}
}

func TestVerify(t *testing.T) {
	path := fileJournal(t, lifecycle(t)...)
	out, err := runCLI(t, "--file", path, "journal", "verify")
	if err != nil || !strings.Contains(out, "6 records") || !strings.Contains(out, "ok") {
		t.Fatalf("clean journal: %v\n%s", err, out)
	}
	// An illegal transition: the container starts again after it exited.
	bad := append(lifecycle(t), rec(t, podID, ctrID, &events.ContainerStarted{Pid: 12}))
	path = fileJournal(t, bad...)
	out, err = runCLI(t, "--file", path, "journal", "verify")
	if !errors.Is(err, errProblems) || !strings.Contains(out, "1 illegal transitions") || !strings.Contains(out, "record 7") {
		t.Fatalf("illegal transition not reported: %v\n%s", err, out)
	}
	// An undecodable payload.
	garbage := journal.Record{Type: string(events.ContainerExitedType), SandboxID: podID, ContainerID: ctrID, Payload: []byte{0xff, 0xff}}
	path = fileJournal(t, append(lifecycle(t)[:5], garbage)...)
	out, err = runCLI(t, "--file", path, "journal", "verify")
	if !errors.Is(err, errProblems) || !strings.Contains(out, "1 undecodable") {
		t.Fatalf("undecodable record not reported: %v\n%s", err, out)
	}
}

// serve exposes j on a unix socket as the daemon does.
func serve(t *testing.T, j *journal.Journal) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	remote.Register(g, j)
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	return sock
}

func TestSocketDumpAndFollow(t *testing.T) {
	j, _ := newJournal(t, lifecycle(t)[:2]...)
	sock := serve(t, j)
	out, err := runCLI(t, "--socket", sock, "journal", "dump")
	if err != nil || !strings.Contains(out, "sandbox.ready") {
		t.Fatalf("dump over the socket: %v\n%s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var buf bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--socket", sock, "journal", "follow"}, lockedWriter{&mu, &buf}, lockedWriter{&mu, &buf})
	}()
	// follow starts after the current last record: records appended from
	// now on are printed, with the pod's name learned from the past.
	deadline := time.Now().Add(10 * time.Second)
	for len(j.Stats().Cursors) == 0 { // the follower's tail is open
		if time.Now().After(deadline) {
			t.Fatal("follow never opened its tail")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, r := range lifecycle(t)[2:] {
		if _, err := j.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for {
		mu.Lock()
		s := buf.String()
		mu.Unlock()
		if strings.Contains(s, "container.exited") {
			if strings.Contains(s, "sandbox.ready") {
				t.Fatalf("follow replayed old records:\n%s", s)
			}
			if !strings.Contains(s, "prod/web") || !strings.Contains(s, "nginx") {
				t.Fatalf("follow without names:\n%s", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follow printed nothing in time:\n%s", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v", err)
	}
}

func TestFileOfRunningDaemonIsRefusedClearly(t *testing.T) {
	_, path := newJournal(t) // held open for writing, as by a daemon
	_, err := runCLI(t, "--file", path, "journal", "dump")
	if !errors.Is(err, journal.ErrLocked) || !strings.Contains(err.Error(), "--socket") {
		t.Fatalf("got %v", err)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"journal"}, {"journal", "nope"}, {"frob"}, {"--file", "x", "--socket", "y", "journal", "dump"}} {
		_, err := runCLI(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
