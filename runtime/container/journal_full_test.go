package container_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/projector"
	"github.com/logbook-cri/logbook/runtime/container"
	"github.com/logbook-cri/logbook/runtime/container/containertest"
)

// TestExitJournaledOnceTheDiskHasRoom: a container that exits while the
// journal cannot grow (its disk is full) is reported exited as soon as
// there is room again, without a restart; meanwhile StopContainer says at
// once why the exit is not recorded (ENOSPC) instead of succeeding while
// the status still says running. The whole environment lives on a small
// tmpfs (TMPDIR), filled up with a file.
func TestExitJournaledOnceTheDiskHasRoom(t *testing.T) {
	containertest.Need(t)
	// Not t.TempDir: its parent, made at its first call, is where every
	// later t.TempDir goes, and the environment's must be on the tmpfs.
	fs, err := os.MkdirTemp("", "journalfull")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", fs, "tmpfs", 0, "size=96m"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() {
		unix.Unmount(fs, unix.MNT_DETACH)
		os.Remove(fs)
	})
	t.Setenv("TMPDIR", fs)
	e := containertest.New(t)
	ctx := context.Background()
	sb := e.RunPod(e.PodConfig("journalfull"))
	id := e.Create(sb, e.ContainerConfig("victim", "sleep", "1000"))
	e.Start(id)

	filler := filepath.Join(fs, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	defer os.Remove(filler)
	// bbolt reuses the pages it freed before it needs new ones: create
	// and remove containers until an append fails.
	var jerr error
	for i := 0; i < 1000 && jerr == nil; i++ {
		var cid string
		if cid, jerr = e.Containers.CreateContainer(ctx, sb, e.ContainerConfig(fmt.Sprintf("grow%d", i), "true")); jerr == nil {
			jerr = e.Containers.RemoveContainer(ctx, cid)
		}
	}
	if !errors.Is(jerr, syscall.ENOSPC) {
		t.Fatalf("the journal never ran out of space: %v", jerr)
	}

	err = e.Containers.StopContainer(ctx, id, 0)
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, container.ErrNotStopped) {
		t.Errorf("StopContainer while the exit cannot be journaled: %v, want ErrNotStopped wrapping ENOSPC", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The shim could not write its exit record either (the state shares
	// the disk), so the code may be unknown (255); the exit is there.
	c := e.WaitContainer(id, 30*time.Second, "exited once the disk has room", func(c *projector.Container) bool {
		return c.State == projector.ContainerExited
	})
	if c.ExitCode != 137 && c.ExitCode != container.UnknownExitCode {
		t.Errorf("exit code %d, want 137 (SIGKILL) or unknown", c.ExitCode)
	}
	if err := e.Containers.StopContainer(ctx, id, 0); err != nil {
		t.Errorf("StopContainer once the exit is journaled: %v", err)
	}
}
