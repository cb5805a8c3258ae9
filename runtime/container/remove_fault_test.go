package container_test

import (
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/logbook-cri/logbook/runtime/container/containertest"
)

// TestRemoveAfterFailedDelete: when runc could not delete an exited
// container (the exit monitor's delete failed), RemoveContainer fails
// instead of journaling a removal that leaves runc's state and the
// container's cgroup behind; once runc can delete it, a second removal
// cleans up. runc is testdata/faults/runc-fault, first in PATH, whose
// rules make `runc delete` fail.
func TestRemoveAfterFailedDelete(t *testing.T) {
	_, file, _, _ := goruntime.Caller(0)
	script, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "faults", "runc-fault"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "runc"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "runc-fault.rules")
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	t.Setenv("LOGBOOK_FAULT_RULES", rules)

	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("faildelete"))
	id := e.Create(sb, e.ContainerConfig("c", "sleep", "1000"))
	e.Start(id)
	if err := os.WriteFile(rules, []byte("delete fail injected fault: runc delete refused\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Containers.StopContainer(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.Containers.RemoveContainer(ctx, id); err == nil {
		t.Error("RemoveContainer succeeded though runc could not delete the container")
	}
	if _, ok := e.Store.Container(id); !ok {
		t.Error("the container was removed from the journal with runc's state left behind")
	}
	if err := os.Remove(rules); err != nil {
		t.Fatal(err)
	}
	if err := e.Containers.RemoveContainer(ctx, id); err != nil {
		t.Fatalf("RemoveContainer once runc can delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.Layout.RuncRoot(), id)); !os.IsNotExist(err) {
		t.Errorf("runc's state of %s is left: %v", id, err)
	}
	if _, ok := e.Store.Container(id); ok {
		t.Error("the container is still listed")
	}
}
