// Package image is logbook's image store: it pulls images from OCI and
// Docker v2 registries, keeps their content by digest, unpacks their layers
// once into snapshots that overlayfs stacks, and collects what nothing
// uses. It is the library the runtime's image service calls; it keeps no
// list of images. Which names point at which image is journal state (the
// image.pulled / image.tagged events and their projection); the store only
// answers "what do I have on disk", and GC is told what to keep.
//
// # Pulling
//
// Pull normalises the reference as kubelets and crictl do ("busybox" is
// docker.io/library/busybox:latest), then asks each endpoint of the
// registry in turn: the mirrors configured for its host, in order, then the
// host itself over https. Plain HTTP is spoken only to an endpoint the
// configuration names with http:// (go-containerregistry's habit of falling
// back to HTTP for loopback and private addresses is pinned off). The first
// endpoint that returns the manifest serves the whole pull; when none does,
// the error is the first real answer (not found, unauthenticated) rather
// than the last connection failure. The image keeps the name the user
// asked for whatever endpoint served it.
//
// A pull always resolves the reference at the registry, even when the image
// is present: tags move, and a caller's deadline must mean something. What
// is already on disk is then skipped: blobs by digest, snapshots by chain
// ID. An index is followed to the entry for the node's platform (the first
// match, as OCI asks). go-containerregistry does the protocol: the
// handshake (basic and bearer challenges, token exchange from the CRI
// credentials) and manifest fetches; blobs are read with a plain GET
// through the same authenticated transport, so each byte is hashed once,
// as it is written. Layer blobs download a few at a time, bottom first,
// while the layers are unpacked in order as their blobs arrive.
//
// Concurrent pulls of one reference with the same credentials share one
// piece of work; different images that share a layer share its download
// and its unpacking. Shared work runs in a goroutine the store owns and
// waits for on Close. It is cancelled only when every caller waiting for it
// has given up; a caller whose deadline passes returns at once with
// ErrDeadlineExceeded. Every error wraps one class of errors.go, each named
// after the gRPC code criserver maps it to.
//
// # On-disk layout
//
//	<root>/lock                          flock: one process per root
//	<root>/content/blobs/sha256/<hex>    manifests, indexes, configs, layer blobs
//	<root>/snapshots/<chain hex>/fs/     one unpacked layer (an overlayfs lowerdir)
//	<root>/snapshots/<chain hex>/meta.json  {chainID, diffID, parent, size}
//	<root>/ingest/<hex16>-<random>       a blob being downloaded
//	<root>/tmp/snap-<random>/            a snapshot being unpacked
//	<root>/tmp/gc-<random>/              what a GC is deleting
//
// A snapshot holds one layer only, keyed by its chain ID (the layer with
// everything below it), so images that share a base share its snapshots.
// Lowers lists an image's snapshot directories top-most first, the
// overlayfs lowerdir order. Whiteouts are overlayfs whiteouts and opaque
// directories carry trusted.overlay.opaque; package archive has the unpack
// rules and the argument that no layer can write outside its snapshot.
// Layers whose uncompressed bytes do not hash to the config's diff ID are
// refused.
//
// # Crash safety
//
// Nothing becomes visible until it is complete and durable:
//
//   - a blob is written to ingest/, hashed on the way and checked against
//     its digest and size, fsync'd, renamed into blobs/, and the directory
//     fsync'd; a blob that does not match is deleted, never renamed;
//   - a snapshot is unpacked into tmp/, its diff ID checked, meta.json
//     written, the filesystem flushed (syncfs), and the whole directory
//     renamed into snapshots/ and the directory fsync'd.
//
// So after a crash at any instruction, blobs/ and snapshots/ hold only
// complete objects, and the partial ones are in ingest/ and tmp/, which
// Open empties before anything else runs. An image is complete when its
// manifest, config, layer blobs and snapshots are all present; Check tells
// the daemon's start-up reconciliation what is missing of each image the
// journal knows, so a half-pulled image is pulled again or dropped.
//
// # Garbage collection and leases
//
// GC(keep) marks from the digests it is given (an index leads to its
// manifests, a manifest to its config and layers, a config to its layers'
// snapshots; a snapshot keeps its parents), adds everything a lease holds,
// and never touches a snapshot that an overlay mount uses. A pull holds a
// lease from the moment it learns a digest or chain ID, before it looks for
// it on disk; a Pulled keeps its lease until Release, which the image
// service calls once the image is journalled; Hold gives the runtime the
// same protection for an image's snapshots while it creates a container. Leases and GC's decide-and-
// rename step share one mutex, so a pull either sees an object GC removed
// (and fetches it again) or GC sees the pull's lease. The slow deletion of
// what GC renamed into tmp/ happens after the mutex is released. GCWith
// computes what to keep under that same mutex: an owner that journals an
// image and then releases its lease is seen either by the lease or by the
// journal's projection, never by neither, as it could be by a Refs computed
// before GC started. DiskUsage measures other trees the way Usage measures
// the store (the containers' writable layers, for ImageFsInfo).
//
// Not handled: disk quotas and decompression bombs (a registry can serve a
// layer that expands to anything its config claims), layers compressed
// otherwise than gzip or zstd, schema 1 manifests, foreign-layer URLs
// (blobs are fetched from the registry), and a pull that resumes a
// half-downloaded blob (it starts again).
package image
