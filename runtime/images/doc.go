// Package images is the image aggregate of logbook's command side: what
// PullImage and RemoveImage change, the parts of ImageStatus and
// ImageFsInfo the journal cannot answer, the reconciliation of the
// journal's images with the store at start, and garbage collection. Which
// images exist, and which names point at them, is journal state
// (image.pulled / tagged / untagged / removed); the image store (package
// image) holds their content and knows nothing of names. ImageStatus and
// ListImages are reads of the projection, done by criserver.
//
// # PullImage
//
//  1. The store pulls the reference: it normalises it the way kubelets do
//     ("busybox" is docker.io/library/busybox:latest), resolves it at the
//     registry every time (through the configured mirrors), and fetches
//     and unpacks only what is missing. There is no "already present"
//     short-cut: a tag may have moved, and a caller's deadline must mean
//     something even for an image on disk. The result holds a lease that
//     keeps its content from garbage collection.
//  2. The aggregate locks the image and its names (below), and journals in
//     one append: image.pulled when the image is new or now resolves
//     through another manifest, then for each name not already on it
//     image.untagged from the image that had it and image.tagged here.
//     A pull that changes nothing appends nothing.
//  3. The lease is released, and the image ID, the config digest, returned.
//
// The journal entry is the pull's commit point. If the caller's deadline
// passes before it, the caller gets DeadlineExceeded and the content on
// disk is garbage that the next collection removes; unlike a container,
// nothing outside the store changed, so nothing needs Settle's insistence.
//
// # Names
//
// A pull gives its image two names: the reference as asked for,
// normalised ("<repo>:<tag>", or "<repo>@<digest>" for a pull by digest),
// and the digest name "<repo>@<manifest digest>" of what it resolved to
// (the index for a multi-platform image), whichever mirror served it. A
// pull by digest gives the one name. A name points at one image at most:
// a tag that moved is untagged from its old image, which keeps its digest
// names (and so stays reachable and listed, as kubelets expect an image
// whose tag moved on to be, until its image GC removes it). RemoveImage
// takes an ID, a unique ID prefix, a tag or a digest name, and removes the
// image with every name, as the CRI means it; an absent image is success.
// The pod-sandbox-image is the one pinned image: the one that carries its
// normalised name.
//
// # Locks
//
// Per-object locks (runtime.Locks), no global one: a pull that journals
// locks its image, each of its names, and each image a name is taken from;
// a removal locks its image. Keys are taken in sorted order, so no two
// operations wait on each other in a cycle. Owners of names are read
// before locking (to know what to lock) and read again once locked; a pull
// that finds them changed (another pull moved a name meanwhile) unlocks
// and starts over. So every batch the aggregate appends is one the fold
// accepts: a name is tagged only where it is free, untagged only where it
// is, and no event names an image a concurrent removal has dropped.
// Concurrent removals of one image serialise on its lock; all but the
// first find it gone and succeed.
//
// # Garbage collection
//
// A collection keeps every image of the projection (its manifest or index
// and its config; through them its layers and snapshots), and the image of
// every container by its ID, including containers being created. A
// container thus keeps its image's config after RemoveImage, and the
// config names its layers' diff IDs, hence the chain IDs of the snapshots
// its root filesystem stacks: no other record of them is needed. Beyond
// that the store keeps whatever a lease holds (a pull not yet journalled,
// a container creation between Lowers and its journal entry) and every
// snapshot an overlay mount uses.
//
// What to keep is read from the projection inside the store's decision
// (image.Store.GCWith), under the mutex that releasing a lease takes. An
// owner journals first and releases its lease second, and the journal's
// commit hook folds the events into the projection before the append
// returns; so at the moment of the decision the owner has either not yet
// released (the lease keeps the content) or has journalled (the
// projection names it). No window lets a fresh image or container lose its
// content. Collections run after every removal, once at start, and
// periodically (the daemon's loop calls Collect), which catches the
// content of containers removed after their images.
//
// # Reconciliation at start
//
// The journal says which images exist; the disk may disagree after a crash
// or an operator's mistake. The store already empties its ingest and tmp
// directories when it opens, so no half-written blob or half-unpacked
// snapshot survives a restart. Reconcile then checks each image of the
// rebuilt projection against the store: an image whose manifest, config,
// layer blobs or snapshots are missing is logged as an error and stays
// listed; a verbose ImageStatus says what is missing (it checks the store
// each time it is asked), and pulling the image again fetches exactly
// that. Dropping it from the journal would hide the damage, and only the
// user removes images. Finally a collection removes what nothing keeps:
// the content of a pull that completed on disk but died before its
// journal entry.
//
// # ImageFsInfo
//
// Two filesystems: the store's root (blobs and snapshots, measured by the
// store) and the directory of the containers' writable layers, each with
// bytes allocated and inodes used (a hard-linked inode once), measured at
// most every few seconds.
package images
