// Package archive unpacks one image layer (an uncompressed tar stream) into
// a directory that overlayfs will stack as a lowerdir, and does so safely
// when the layer is hostile.
//
// # One layer, overlayfs form
//
// A layer is a diff: it adds and replaces entries and deletes entries of
// the layers below. Each layer is unpacked alone into its own directory, and
// the runtime stacks the directories with overlayfs. The OCI deletion
// markers therefore become overlayfs's own:
//
//   - ".wh.<name>" becomes a character device 0/0 named <name> (an overlayfs
//     whiteout), hiding <name> of the layers below;
//   - ".wh..wh..opq" sets trusted.overlay.opaque=y on its directory, hiding
//     that directory's content below (entries of this layer stay);
//   - other ".wh..wh." entries (aufs bookkeeping) are skipped.
//
// A layer may not forge overlayfs's metadata: trusted.overlay.* and
// user.overlay.* xattrs in the tar are dropped, so a layer cannot redirect a
// directory or claim a metacopy origin.
//
// Everything else is reproduced: regular files, directories, symlinks, hard
// links, character and block devices, fifos; owners (numeric), modes
// including setuid, setgid and sticky bits, xattrs (security.capability
// too) and nanosecond mtimes. Order matters where the kernel clears things:
// content is written, then the owner set (chown clears setuid bits and file
// capabilities), then the mode, then xattrs, then times. Directory times
// are set last, once nothing more is created inside them. A later entry
// replaces an earlier one of the same name (a directory over a directory
// merges); it never writes through what was there.
//
// A hard link must stay inside its layer, so a link whose target is not in
// this layer is resolved in the layers below (the first layer, top-most
// first, that shows the path, honouring whiteouts and opaque directories)
// and the target is copied. A directory this layer needs but does not list
// is created with the owner, mode, xattrs and mtime it has below, because
// overlayfs shows a merged directory with its top-most layer's attributes.
//
// # The safety argument
//
// Nothing is ever resolved by joining strings and letting the kernel follow
// what it finds. The layer root is opened once (an O_PATH descriptor) and:
//
//  1. Entry names and hard-link targets are cleaned lexically first: a
//     leading "/" is dropped (tar names are relative to the root) and a ".."
//     that would climb above the root fails with ErrBreakout.
//  2. The parent directory of every entry is opened with openat2 and
//     RESOLVE_IN_ROOT (plus RESOLVE_NO_MAGICLINKS and RESOLVE_NO_XDEV) from
//     the root descriptor: the kernel resolves it as a process chrooted into
//     the layer would, so ".." stops at the root and an absolute symlink
//     restarts at the root. No symlink planted by the layer, absolute or
//     relative, can lead outside. A missing parent is created one component
//     at a time, each step resolved the same way; a parent that is a
//     dangling symlink fails with ErrNotDir.
//  3. The entry itself is created relative to that parent descriptor with a
//     single-component *at call that does not follow a final symlink:
//     openat with O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, mknodat, symlinkat,
//     linkat without AT_SYMLINK_FOLLOW; metadata is set through the open
//     file, with AT_SYMLINK_NOFOLLOW, or through /proc/self/fd/<parent>/<name>
//     with the l* xattr calls. When the name exists it is removed (without
//     following anything) and created again.
//  4. A hard link's target is resolved the same way, inside this layer or
//     inside a lower layer's root: a link can only ever name a file of the
//     image. A link to a symlink links the symlink itself.
//  5. Device nodes and fifos are created, never opened: their metadata is
//     set by name, and a later entry of the same name replaces the node.
//
// So a symlink's target is only data: "/etc" planted as a symlink makes
// later entries under it land in <root>/etc, which is what the container
// will see. The unpacker is the only writer of the directory while it runs
// (the store unpacks into a private temporary directory), so no race can
// swap a component between resolution and use; openat2 would contain even
// that.
//
// # Errors
//
// Every error wraps ErrInvalid (the layer's fault: ErrBreakout, ErrNotDir,
// ErrLinkTarget, ErrUnsupported, ErrBadHeader, or a malformed tar), ErrHost
// (the host's fault: no space, I/O error, missing privilege), the context's
// error, or the error of the reader the layer comes from. On error the
// directory holds a partial layer that the caller discards.
package archive
