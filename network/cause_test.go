package network

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSetupKeepsTheCause: Setup's errors wrap their cause, so the caller
// (and criserver's mapping) can tell a full disk or a deadline from a
// plugin's refusal: a failure to record the attachment (here ENOTDIR; on
// a full disk ENOSPC, ResourceExhausted) and an ADD cut by the caller's
// deadline (DeadlineExceeded) are both still visible through ErrSetup.
func TestSetupKeepsTheCause(t *testing.T) {
	requireCNI(t, "bridge", "host-local")
	tn := newTestNet(t, 7)
	tn.writeConf(t, "10-test.conflist", tn.bridgeChain(`{"type":"hang"}`))
	if err := os.WriteFile(filepath.Join(tn.binDir, "hang"), []byte("#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then sleep 3600 & wait; fi\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := tn.manager(t, Options{})

	// The attachment record cannot be written: its directory is a file.
	if err := os.MkdirAll(tn.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(tn.cache, "attachments")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := m.Setup(context.Background(), sandboxID(t), newNetNS(t), podConfig(t))
	if !errors.Is(err, ErrSetup) || !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("Setup with the record unwritable: %v, want ErrSetup wrapping ENOTDIR", err)
	}
	os.Remove(blocker)

	// ADD hangs (in a child of the plugin): the caller's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = m.Setup(ctx, sandboxID(t), newNetNS(t), podConfig(t))
	if !errors.Is(err, ErrSetup) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Setup past its deadline: %v, want ErrSetup wrapping context.DeadlineExceeded", err)
	}
	if got := tn.leases(t); len(got) != 0 {
		t.Errorf("leases after a Setup cut by its deadline: %v", got)
	}
}
