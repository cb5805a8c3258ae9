package runtime

import "path/filepath"

// Layout is where everything of the daemon lives on disk: persistent data
// under Root, runtime state (gone at reboot, like the processes it
// describes) under State. Every component gets its paths from here, so
// two daemons with different roots and states never touch each other's
// files. IDs are validated hex before they reach a path.
type Layout struct {
	Root  string
	State string
}

// Journal is the bbolt journal file.
func (l Layout) Journal() string { return filepath.Join(l.Root, "journal.db") }

// Images is the image store's root: content blobs and layer snapshots.
func (l Layout) Images() string { return filepath.Join(l.Root, "image") }

// ContainerDir holds a container's writable layer (overlay upper and work).
func (l Layout) ContainerDir(id string) string { return filepath.Join(l.Root, "containers", id) }

// RuncRoot is runc's --root: its per-container state.
func (l Layout) RuncRoot() string { return filepath.Join(l.State, "runc") }

// Bundle is a container's (or infra process's) OCI bundle: config.json and
// the rootfs mount point.
func (l Layout) Bundle(id string) string { return filepath.Join(l.State, "bundles", id) }

// Rootfs is the mount point of a bundle's root filesystem: the overlay of
// a container (or of an infra process run from a pod-sandbox-image).
func (l Layout) Rootfs(id string) string { return filepath.Join(l.Bundle(id), "rootfs") }

// ShimDir is a shim's state directory: pid file, exit record, socket, log.
func (l Layout) ShimDir(id string) string { return filepath.Join(l.State, "shims", id) }

// SandboxDir holds a sandbox's generated files: hostname, hosts,
// resolv.conf, and its /dev/shm mount.
func (l Layout) SandboxDir(id string) string { return filepath.Join(l.State, "sandboxes", id) }

// SandboxHostname, SandboxHosts and SandboxResolvConf are a sandbox's
// generated /etc files, bind-mounted into each of its containers.
func (l Layout) SandboxHostname(id string) string { return filepath.Join(l.SandboxDir(id), "hostname") }

func (l Layout) SandboxHosts(id string) string { return filepath.Join(l.SandboxDir(id), "hosts") }

func (l Layout) SandboxResolvConf(id string) string {
	return filepath.Join(l.SandboxDir(id), "resolv.conf")
}

// SandboxShm is the mount point of a sandbox's /dev/shm tmpfs, shared by
// its containers.
func (l Layout) SandboxShm(id string) string { return filepath.Join(l.SandboxDir(id), "shm") }

// NetNS is the bind mount that keeps a sandbox's network namespace alive.
func (l Layout) NetNS(id string) string { return filepath.Join(l.State, "netns", id) }

// PauseRootfs is the read-only rootfs of the built-in infra process.
func (l Layout) PauseRootfs() string { return filepath.Join(l.State, "pause") }
