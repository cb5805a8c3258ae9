package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// pauseName is the infra binary's name inside its rootfs.
const pauseName = "pause"

// preparePauseRootfs makes the built-in infra's read-only rootfs: the pause
// binary and the mount points runc needs, shared by every sandbox. The
// binary is replaced only when it differs, through a rename, so running
// infra processes keep the file they were started from.
func preparePauseRootfs(dir, binary string) error {
	want, err := os.ReadFile(binary)
	if err != nil {
		return fmt.Errorf("pause binary: %w", err)
	}
	for _, d := range []string{"", "proc", "dev", "sys", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	dst := filepath.Join(dir, pauseName)
	if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, want) {
		return nil
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, want, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
