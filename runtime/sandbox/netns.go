package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/runtime"
)

// createNetNS makes a new network namespace, keeps it alive with a bind
// mount at path, and brings its loopback up. unshare(2) changes the
// calling thread, so the work runs on a locked thread that is put back
// into its original namespace afterwards; should that fail, the goroutine
// exits still locked and Go discards the thread rather than reuse it in
// the wrong namespace.
func createNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("network namespace file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		orig, err := os.Open(self)
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare network namespace: %w", err)
			}
			if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind network namespace to %s: %w", path, err)
			}
			h, err := netlink.NewHandle() // a socket in this thread's namespace
			if err != nil {
				return fmt.Errorf("netlink in the pod's namespace: %w", err)
			}
			defer h.Close()
			lo, err := h.LinkByName("lo")
			if err != nil {
				return fmt.Errorf("loopback of the pod's namespace: %w", err)
			}
			if err := h.LinkSetUp(lo); err != nil {
				return fmt.Errorf("bring the pod's loopback up: %w", err)
			}
			return nil
		}()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		}
	}()
	if err := <-errc; err != nil {
		removeNetNS(path)
		return err
	}
	return nil
}

// removeNetNS unmounts and removes a network namespace file; a namespace
// already gone is success. The namespace itself lives on while a process
// is in it.
func removeNetNS(path string) error {
	if path == "" {
		return nil
	}
	if err := runtime.Unmount(path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
