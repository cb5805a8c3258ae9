package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
)

// TestMountVerify runs verify against this process, whose root is the
// host's, so a mount's container path can be its host path: what was
// checked passes; a host path swapped for a symlink after the check, or a
// file replaced by another, is ErrMountChanged (FailedPrecondition); a
// masked destination is not compared.
func TestMountVerify(t *testing.T) {
	base := t.TempDir()
	dir, other, file := filepath.Join(base, "dir"), filepath.Join(base, "other"), filepath.Join(base, "file")
	os.Mkdir(dir, 0o755)
	os.Mkdir(other, 0o755)
	os.WriteFile(file, []byte("checked"), 0o644)
	os.Symlink(dir, filepath.Join(base, "link"))
	mounts := []*runtimeapi.Mount{
		{HostPath: filepath.Join(base, "link"), ContainerPath: dir},
		{HostPath: file, ContainerPath: file},
	}
	src, err := resolveMounts(mounts, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Linux: &specs.Linux{}}
	if err := src.verify(os.Getpid(), mounts, spec); err != nil {
		t.Fatalf("unchanged: %v", err)
	}

	os.Rename(dir, dir+".checked")
	os.Symlink(other, dir)
	err = src.verify(os.Getpid(), mounts, spec)
	if !errors.Is(err, ErrMountChanged) || !errors.Is(err, runtime.ErrFailedPrecondition) {
		t.Errorf("directory swapped for a symlink: %v", err)
	}
	spec.Linux.MaskedPaths = []string{base}
	if err := src.verify(os.Getpid(), mounts, spec); err != nil {
		t.Errorf("masked destinations are compared: %v", err)
	}
	spec.Linux.MaskedPaths = nil
	os.Remove(dir)
	os.Rename(dir+".checked", dir)

	os.WriteFile(file+".new", []byte("other"), 0o644)
	os.Rename(file+".new", file)
	if err := src.verify(os.Getpid(), mounts, spec); !errors.Is(err, ErrMountChanged) {
		t.Errorf("file replaced: %v", err)
	}

	// A symlink planted between the resolution and the identification.
	if _, err := identify(filepath.Join(base, "link")); !errors.Is(err, ErrMountChanged) {
		t.Errorf("identify through a symlink: %v", err)
	}
}
