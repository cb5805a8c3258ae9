package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure Unpack.
type Options struct {
	// Lowers are the roots of the layers below this one, top-most first (the
	// overlayfs lowerdir order). They are only read: to copy the target of a
	// hard link that lives in a lower layer, and to give a directory this
	// layer creates implicitly the attributes it has below.
	Lowers []string
	// Logger receives notices of skipped entries and attributes (debug
	// level). Nil discards them.
	Logger *slog.Logger
}

// Stats summarises an unpacked layer.
type Stats struct {
	Entries int   // tar entries read
	Bytes   int64 // bytes of regular-file content written
}

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
	paxXattr       = "SCHILY.xattr."
	opaqueXattr    = "trusted.overlay.opaque"

	// inRoot resolves a path the way a process chrooted into the layer
	// would: ".." stops at the root, absolute symlinks restart at the root,
	// /proc magic links and mount crossings are refused.
	inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV
	// beneathNoLinks opens a single component under a directory fd without
	// following any symlink.
	beneathNoLinks = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV
)

// Unpack applies the uncompressed tar stream r as one overlayfs layer into
// dir, an existing directory (normally empty) that nothing else writes while
// Unpack runs. Whiteouts become overlayfs whiteouts; see the package
// documentation for the rules and the safety argument.
//
// The error wraps ErrInvalid (the layer's fault, with a precise kind),
// ErrHost (the host's fault), the context's error, or the error r returned.
// On error dir holds a partial layer the caller must discard.
func Unpack(ctx context.Context, r io.Reader, dir string, opts Options) (Stats, error) {
	u, err := newUnpacker(dir, opts)
	if err != nil {
		return Stats{}, err
	}
	defer u.close()
	src := &source{ctx: ctx, r: r}
	tr := tar.NewReader(src)
	for {
		if err := ctx.Err(); err != nil {
			return u.stats, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return u.stats, src.blame(fmt.Errorf("%w: reading tar header: %w", ErrInvalid, err))
		}
		u.stats.Entries++
		if err := u.apply(hdr, tr); err != nil {
			return u.stats, src.blame(err)
		}
	}
	if err := u.finish(); err != nil {
		return u.stats, err
	}
	return u.stats, nil
}

// source remembers the first error of the underlying reader, so that a tar
// failure caused by it (a cancelled context, a decompression or transport
// error) is reported as that cause rather than as a bad layer.
type source struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (s *source) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *source) blame(err error) error {
	if s.err != nil {
		return fmt.Errorf("archive: reading layer: %w", s.err)
	}
	return err
}

type dirTime struct {
	atime, mtime unix.Timespec
}

type unpacker struct {
	log    *slog.Logger
	root   int   // O_PATH fd of the layer root
	lowers []int // O_PATH fds of the lower roots, top-most first

	// One cached parent directory: tar streams list a directory's entries
	// together. stale is set when an entry was removed, since a removal can
	// change what a cached path resolves to.
	cachePath string
	cacheFD   int
	stale     bool

	times map[string]dirTime // directory mtimes, set last
	buf   []byte
	stats Stats
}

func newUnpacker(dir string, opts Options) (*unpacker, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &unpacker{log: log, root: -1, cacheFD: -1, times: map[string]dirTime{}}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: opening layer root %s: %w", ErrHost, dir, err)
	}
	u.root = fd
	for _, l := range opts.Lowers {
		fd, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			u.close()
			return nil, fmt.Errorf("%w: opening lower layer %s: %w", ErrHost, l, err)
		}
		u.lowers = append(u.lowers, fd)
	}
	u.buf = make([]byte, 256<<10)
	return u, nil
}

func (u *unpacker) close() {
	u.dropCache()
	for _, fd := range u.lowers {
		unix.Close(fd)
	}
	if u.root >= 0 {
		unix.Close(u.root)
	}
}

func (u *unpacker) dropCache() {
	if u.cacheFD >= 0 {
		unix.Close(u.cacheFD)
	}
	u.cachePath, u.cacheFD, u.stale = "", -1, false
}

// cleanName turns a tar name into a path relative to the layer root ("" is
// the root itself). Leading slashes are dropped, as tar does; a ".." that
// would climb above the root is refused.
func cleanName(name string) (string, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: empty name or NUL in name", ErrBadHeader)
	}
	depth := 0
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", ErrBreakout
			}
		default:
			depth++
		}
	}
	return path.Clean("/" + name)[1:], nil
}

func splitRel(rel string) (dir, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

func dot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// openIn opens rel under the directory fd at with openat2 and the given
// resolve flags, retrying the EAGAIN that RESOLVE_IN_ROOT may return when
// the tree changes concurrently.
func openIn(at int, rel string, flags uint64, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolve}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(at, dot(rel), &how)
		if (err == unix.EAGAIN || err == unix.EINTR) && i < 16 {
			continue
		}
		return fd, err
	}
}

// procPath names the inode an fd refers to (name == "") or the entry name
// directly inside the directory fd refers to, for the calls Linux offers
// only on paths (xattrs, chmod of special files). The directory part is a
// magic link to the exact inode already resolved; name is never followed by
// the l* calls that use it.
func procPath(fd int, name string) string {
	p := fmt.Sprintf("/proc/self/fd/%d", fd)
	if name != "" {
		p += "/" + name
	}
	return p
}

// classify turns a syscall failure into ErrHost (the host's fault) or
// ErrInvalid (what the layer asked for cannot be done).
func classify(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.ENOSPC, unix.EDQUOT, unix.EIO, unix.EROFS, unix.EMFILE, unix.ENFILE,
			unix.ENOMEM, unix.ENOSYS, unix.EPERM, unix.EACCES, unix.EBADF, unix.EFAULT:
			return ErrHost
		case unix.ENOTDIR:
			return ErrNotDir
		}
	}
	return ErrInvalid
}

// fail names the entry in err and makes sure err carries a class.
func fail(name string, err error) error {
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrHost) {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	return fmt.Errorf("entry %q: %w: %w", name, classify(err), err)
}

// dir returns an O_PATH fd of the directory rel, resolved inside the root,
// creating missing components. The fd belongs to the cache: it stays valid
// until the next call of dir.
func (u *unpacker) dir(rel string) (int, error) {
	if rel == "" {
		return u.root, nil
	}
	if u.cacheFD >= 0 && !u.stale && u.cachePath == rel {
		return u.cacheFD, nil
	}
	u.dropCache()
	fd, err := openIn(u.root, rel, unix.O_PATH|unix.O_DIRECTORY, inRoot)
	if err == unix.ENOENT {
		fd, err = u.mkdirs(rel)
	}
	if err != nil {
		if err == unix.ENOTDIR {
			return -1, fmt.Errorf("%w: %s: %w", ErrNotDir, rel, err)
		}
		return -1, err
	}
	u.cachePath, u.cacheFD = rel, fd
	return fd, nil
}

// mkdirs walks rel one component at a time, each step resolved from the
// root so that symlinks met on the way stay inside it, and creates the
// components that are missing.
func (u *unpacker) mkdirs(rel string) (int, error) {
	parent, owned := u.root, false
	comps := strings.Split(rel, "/")
	for i, c := range comps {
		p := strings.Join(comps[:i+1], "/")
		fd, err := openIn(u.root, p, unix.O_PATH|unix.O_DIRECTORY, inRoot)
		if err == unix.ENOENT {
			err = unix.Mkdirat(parent, c, 0o700)
			switch err {
			case nil:
				if err = u.implicitDir(parent, c, p); err == nil {
					fd, err = openIn(parent, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, beneathNoLinks)
				}
			case unix.EEXIST:
				// c exists but does not resolve: a dangling symlink.
				err = fmt.Errorf("%w: %s is a symlink to nothing", ErrNotDir, p)
			}
		}
		if owned {
			unix.Close(parent)
		}
		if err != nil {
			return -1, err
		}
		parent, owned = fd, true
	}
	return parent, nil
}

// implicitDir gives a directory created only because an entry needs it the
// owner, mode and xattrs the merged view below this layer shows for it, so
// that overlayfs (which takes a merged directory's attributes from its
// top-most layer) shows it unchanged. With nothing below, root 0755.
func (u *unpacker) implicitDir(parent int, name, rel string) error {
	lpfd, st, ok, err := u.lowerLookup(rel)
	if err != nil {
		return err
	}
	if !ok || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if ok {
			unix.Close(lpfd)
		}
		return unix.Fchmodat(parent, name, 0o755, 0)
	}
	defer unix.Close(lpfd)
	_, lbase := splitRel(rel)
	if err := unix.Fchownat(parent, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if err := unix.Fchmodat(parent, name, st.Mode&0o7777, 0); err != nil {
		return err
	}
	if err := u.copyXattrs(procPath(lpfd, lbase), procPath(parent, name)); err != nil {
		return err
	}
	u.times[rel] = dirTime{atime: st.Atim, mtime: st.Mtim}
	return nil
}

func (u *unpacker) apply(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return fail(hdr.Name, err)
	}
	if hdr.Uid < 0 || hdr.Gid < 0 || hdr.Uid > 1<<32-2 || hdr.Gid > 1<<32-2 {
		return fail(hdr.Name, fmt.Errorf("%w: owner %d:%d out of range", ErrBadHeader, hdr.Uid, hdr.Gid))
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return fail(hdr.Name, fmt.Errorf("%w: the root entry must be a directory", ErrBadHeader))
		}
		return fail(hdr.Name, u.rootDir(hdr))
	}
	if isSparse(hdr) {
		// archive/tar offers no way to learn a sparse entry's holes, so
		// it would expand them: a few bytes of sparse map could demand
		// terabytes of writes. The OCI image spec says sparse files
		// SHOULD NOT be used in layers.
		return fail(hdr.Name, fmt.Errorf("%w: sparse file", ErrUnsupported))
	}
	dirRel, base := splitRel(rel)
	if strings.HasPrefix(base, whiteoutPrefix) {
		if err := u.whiteout(dirRel, base); err != nil {
			return fail(hdr.Name, err)
		}
		return nil
	}
	pfd, err := u.dir(dirRel)
	if err != nil {
		return fail(hdr.Name, err)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = u.mkdir(pfd, base, rel, hdr)
	case tar.TypeReg:
		err = u.file(pfd, base, hdr, r)
	case tar.TypeSymlink:
		err = u.symlink(pfd, base, hdr)
	case tar.TypeLink:
		err = u.link(pfd, base, rel, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		err = u.node(pfd, base, hdr)
	default:
		err = fmt.Errorf("%w: type %q", ErrUnsupported, hdr.Typeflag)
	}
	if err != nil {
		return fail(hdr.Name, err)
	}
	return nil
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func timespecs(hdr *tar.Header) []unix.Timespec {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return []unix.Timespec{toTimespec(atime), toTimespec(hdr.ModTime)}
}

func toTimespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// xattrs lists the entry's extended attributes in a stable order, leaving
// out overlayfs's own: a layer must not forge opaque markers, redirects or
// metacopy origins (the one opaque marker honoured is .wh..wh..opq).
func xattrs(hdr *tar.Header) []string {
	var names []string
	for k := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattr)
		if !ok || name == "" {
			continue
		}
		if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// setXattrs applies the entry's xattrs with set. A filesystem without
// support for a namespace, or the kernel's refusal of user.* xattrs on
// symlinks and special files, skips that attribute with a notice.
func (u *unpacker) setXattrs(hdr *tar.Header, set func(name string, value []byte) error) error {
	for _, name := range xattrs(hdr) {
		err := set(name, []byte(hdr.PAXRecords[paxXattr+name]))
		switch {
		case err == nil:
		case err == unix.ENOTSUP || (err == unix.EPERM && strings.HasPrefix(name, "user.")):
			u.log.Debug("xattr skipped", "entry", hdr.Name, "xattr", name, "err", err)
		default:
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

func (u *unpacker) rootDir(hdr *tar.Header) error {
	if err := unix.Fchownat(u.root, "", hdr.Uid, hdr.Gid, unix.AT_EMPTY_PATH); err != nil {
		return err
	}
	p := procPath(u.root, "")
	if err := unix.Chmod(p, uint32(hdr.Mode)&0o7777); err != nil {
		return err
	}
	if err := u.setXattrs(hdr, func(n string, v []byte) error { return unix.Setxattr(p, n, v, 0) }); err != nil {
		return err
	}
	ts := timespecs(hdr)
	u.times[""] = dirTime{atime: ts[0], mtime: ts[1]}
	return nil
}

// removeAt removes name from the directory dirfd, recursively for a
// directory, without following symlinks. A missing name is not an error.
func (u *unpacker) removeAt(dirfd int, name string) error {
	u.stale = true
	return removeAt(dirfd, name)
}

func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	for {
		names, err := d.Readdirnames(256)
		for _, n := range names {
			if err := removeAt(fd, n); err != nil {
				d.Close()
				return err
			}
		}
		if err == io.EOF || len(names) == 0 {
			break
		}
		if err != nil {
			d.Close()
			return err
		}
	}
	d.Close()
	err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	if err == unix.ENOENT {
		return nil
	}
	return err
}

func (u *unpacker) mkdir(pfd int, base, rel string, hdr *tar.Header) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// A directory replaces a non-directory; two directories merge.
			if err = u.removeAt(pfd, base); err == nil {
				err = unix.Mkdirat(pfd, base, 0o700)
			}
		}
	}
	if err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return err
	}
	if err := u.setXattrs(hdr, func(n string, v []byte) error { return unix.Fsetxattr(fd, n, v, 0) }); err != nil {
		return err
	}
	ts := timespecs(hdr)
	u.times[rel] = dirTime{atime: ts[0], mtime: ts[1]}
	return nil
}

// create runs mk, and when the name is taken replaces what is there (tar
// semantics: a later entry replaces an earlier one; it never writes through
// it, whatever it is: symlink, device, fifo).
func (u *unpacker) create(pfd int, base string, mk func() error) error {
	err := mk()
	if err == unix.EEXIST {
		if err = u.removeAt(pfd, base); err == nil {
			err = mk()
		}
	}
	return err
}

// writerOnly hides os.File's ReaderFrom so that copies go through the
// unpacker's buffer, and records write errors apart from read errors.
type writerOnly struct {
	f   *os.File
	err error
}

func (w *writerOnly) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

func (u *unpacker) file(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	var fd int
	err := u.create(pfd, base, func() (err error) {
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	w := &writerOnly{f: f}
	n, err := io.CopyBuffer(w, r, u.buf)
	u.stats.Bytes += n
	if err != nil {
		if w.err != nil {
			return w.err
		}
		return fmt.Errorf("%w: content: %w", ErrInvalid, err)
	}
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	// After chown, which clears setuid/setgid bits and security.capability.
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return err
	}
	if err := u.setXattrs(hdr, func(n string, v []byte) error { return unix.Fsetxattr(fd, n, v, 0) }); err != nil {
		return err
	}
	return unix.UtimesNanoAt(pfd, base, timespecs(hdr), unix.AT_SYMLINK_NOFOLLOW)
}

// symlink creates a symlink. Its target is data: nothing here follows it,
// and every later path that crosses it is resolved inside the root.
func (u *unpacker) symlink(pfd int, base string, hdr *tar.Header) error {
	if hdr.Linkname == "" || strings.IndexByte(hdr.Linkname, 0) >= 0 {
		return fmt.Errorf("%w: empty symlink target or NUL in target", ErrBadHeader)
	}
	if err := u.create(pfd, base, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) }); err != nil {
		return err
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	p := procPath(pfd, base)
	if err := u.setXattrs(hdr, func(n string, v []byte) error { return unix.Lsetxattr(p, n, v, 0) }); err != nil {
		return err
	}
	return unix.UtimesNanoAt(pfd, base, timespecs(hdr), unix.AT_SYMLINK_NOFOLLOW)
}

func (u *unpacker) node(pfd int, base string, hdr *tar.Header) error {
	var kind uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		kind = unix.S_IFCHR
	case tar.TypeBlock:
		kind = unix.S_IFBLK
	default:
		kind = unix.S_IFIFO
	}
	if hdr.Devmajor < 0 || hdr.Devminor < 0 || hdr.Devmajor > 1<<32-1 || hdr.Devminor > 1<<32-1 {
		return fmt.Errorf("%w: device %d:%d out of range", ErrBadHeader, hdr.Devmajor, hdr.Devminor)
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := u.create(pfd, base, func() error { return unix.Mknodat(pfd, base, kind|0o600, int(dev)) }); err != nil {
		return err
	}
	return u.nodeMeta(pfd, base, hdr.Uid, hdr.Gid, uint32(hdr.Mode)&0o7777, timespecs(hdr), func(p string) error {
		return u.setXattrs(hdr, func(n string, v []byte) error { return unix.Lsetxattr(p, n, v, 0) })
	})
}

// nodeMeta sets owner, mode, xattrs and times of a device node or fifo
// without opening it (opening a device has side effects; a fifo blocks).
func (u *unpacker) nodeMeta(pfd int, base string, uid, gid int, mode uint32, ts []unix.Timespec, xattrs func(p string) error) error {
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if err := chmodNoFollow(pfd, base, mode); err != nil {
		return err
	}
	if err := xattrs(procPath(pfd, base)); err != nil {
		return err
	}
	return unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// chmodNoFollow changes the mode of a non-symlink entry without following a
// final symlink: fchmodat2 where the kernel has it (6.6), else through an
// O_PATH fd of the entry itself.
func chmodNoFollow(pfd int, base string, mode uint32) error {
	err := unix.Fchmodat(pfd, base, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return err
	}
	fd, err := openIn(pfd, base, unix.O_PATH|unix.O_NOFOLLOW, beneathNoLinks)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	return unix.Chmod(procPath(fd, ""), mode)
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// link makes rel a hard link to the entry named by hdr.Linkname: in this
// layer when it is there, else a copy of it from the first lower layer
// that shows it (a hard link cannot cross layers).
func (u *unpacker) link(pfd int, base, rel string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	if target == "" {
		return fmt.Errorf("%w: link to the root", ErrLinkTarget)
	}
	tdir, tbase := splitRel(target)
	tpfd, err := openIn(u.root, tdir, unix.O_PATH|unix.O_DIRECTORY, inRoot)
	if err == nil {
		defer unix.Close(tpfd)
		var st unix.Stat_t
		err = unix.Fstatat(tpfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil {
			switch {
			case st.Mode&unix.S_IFMT == unix.S_IFDIR:
				return fmt.Errorf("%w: %q is a directory", ErrLinkTarget, hdr.Linkname)
			case isWhiteout(&st):
				return fmt.Errorf("%w: %q is deleted by this layer", ErrLinkTarget, hdr.Linkname)
			case target == rel:
				return nil // a link to itself: already there
			}
			return u.create(pfd, base, func() error { return unix.Linkat(tpfd, tbase, pfd, base, 0) })
		}
	}
	if err != unix.ENOENT && err != unix.ENOTDIR {
		return err
	}
	lpfd, st, ok, err := u.lowerLookup(target)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q not found in this layer or below", ErrLinkTarget, hdr.Linkname)
	}
	defer unix.Close(lpfd)
	return u.copyNode(lpfd, tbase, &st, pfd, base)
}

// lowerLookup finds rel in the lower layers as the merged view below this
// layer shows it: the first layer (top-most first) that has it wins; a
// whiteout, an opaque directory or a non-directory on the way in a layer
// hides everything below. On success it returns an O_PATH fd of the parent
// directory in that layer (the caller closes it) and the entry's stat.
// Each layer's path is resolved inside that layer's own root.
func (u *unpacker) lowerLookup(rel string) (int, unix.Stat_t, bool, error) {
	var st unix.Stat_t
	dir, base := splitRel(rel)
	for _, l := range u.lowers {
		pfd, err := openIn(l, dir, unix.O_PATH|unix.O_DIRECTORY, inRoot)
		if err == nil {
			err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
			if err == nil {
				if isWhiteout(&st) {
					unix.Close(pfd)
					return -1, st, false, nil
				}
				return pfd, st, true, nil
			}
			unix.Close(pfd)
		}
		if err != unix.ENOENT && err != unix.ENOTDIR {
			return -1, st, false, err
		}
		hidden, err := hiddenBelow(l, dir)
		if err != nil || hidden {
			return -1, st, false, err
		}
	}
	return -1, st, false, nil
}

// hiddenBelow reports whether the layer l stops lookups of paths under dir
// from reaching the layers below it: some ancestor (dir itself included) is
// an opaque directory, a whiteout or a non-directory in l.
func hiddenBelow(l int, dir string) (bool, error) {
	for p := dir; p != ""; {
		parent, base := splitRel(p)
		pfd, err := openIn(l, parent, unix.O_PATH|unix.O_DIRECTORY, inRoot)
		if err == nil {
			var st unix.Stat_t
			err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
			hidden := false
			if err == nil {
				if st.Mode&unix.S_IFMT != unix.S_IFDIR {
					hidden = true
				} else {
					hidden, err = hasOpaque(procPath(pfd, base))
				}
			}
			unix.Close(pfd)
			if err == nil && hidden {
				return true, nil
			}
		}
		if err != nil && err != unix.ENOENT && err != unix.ENOTDIR {
			return false, err
		}
		p = parent
	}
	return hasOpaque(procPath(l, ""))
}

func hasOpaque(p string) (bool, error) {
	var v [8]byte
	n, err := unix.Lgetxattr(p, opaqueXattr, v[:])
	switch err {
	case nil:
		return n == 1 && v[0] == 'y', nil
	case unix.ENODATA, unix.ENOTSUP:
		return false, nil
	}
	return false, err
}

// copyNode copies the lower entry (lpfd, lbase) with stat st into (pfd,
// base): content, owner, mode, xattrs and times.
func (u *unpacker) copyNode(lpfd int, lbase string, st *unix.Stat_t, pfd int, base string) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	uid, gid, mode := int(st.Uid), int(st.Gid), st.Mode&0o7777
	copyX := func(p string) error { return u.copyXattrs(procPath(lpfd, lbase), p) }
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return u.copyFile(lpfd, lbase, pfd, base, uid, gid, mode, ts, copyX)
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(lpfd, lbase, buf)
		if err != nil {
			return err
		}
		target := string(buf[:n])
		if err := u.create(pfd, base, func() error { return unix.Symlinkat(target, pfd, base) }); err != nil {
			return err
		}
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := copyX(procPath(pfd, base)); err != nil {
			return err
		}
		return unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		kind := st.Mode & unix.S_IFMT
		if err := u.create(pfd, base, func() error { return unix.Mknodat(pfd, base, kind|0o600, int(st.Rdev)) }); err != nil {
			return err
		}
		return u.nodeMeta(pfd, base, uid, gid, mode, ts, copyX)
	}
	return fmt.Errorf("%w: lower entry %q has mode %o", ErrLinkTarget, lbase, st.Mode)
}

func (u *unpacker) copyFile(lpfd int, lbase string, pfd int, base string, uid, gid int, mode uint32, ts []unix.Timespec, copyX func(string) error) error {
	sfd, err := openIn(lpfd, lbase, unix.O_RDONLY|unix.O_NOFOLLOW, beneathNoLinks)
	if err != nil {
		return err
	}
	src := os.NewFile(uintptr(sfd), lbase)
	defer src.Close()
	var fd int
	err = u.create(pfd, base, func() (err error) {
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return err
	}
	dst := os.NewFile(uintptr(fd), base)
	defer dst.Close()
	if _, err := dst.ReadFrom(src); err != nil { // copy_file_range where it can
		return err
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	if err := copyX(procPath(pfd, base)); err != nil {
		return err
	}
	return unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// copyXattrs copies the xattrs of the entry at path from to the entry at
// path to (neither followed), overlayfs's own excepted.
func (u *unpacker) copyXattrs(from, to string) error {
	names, err := listXattrs(from)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, "trusted.overlay.") || strings.HasPrefix(n, "user.overlay.") {
			continue
		}
		v, err := getXattr(from, n)
		if err == unix.ENODATA {
			continue
		}
		if err != nil {
			return err
		}
		if err := unix.Lsetxattr(to, n, v, 0); err != nil && err != unix.ENOTSUP {
			return fmt.Errorf("xattr %s: %w", n, err)
		}
	}
	return nil
}

func listXattrs(p string) ([]string, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Llistxattr(p, buf)
		if err == unix.ERANGE && size < 1<<20 {
			continue
		}
		if err == unix.ENOTSUP {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		return names, nil
	}
}

func getXattr(p, name string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, buf)
		if err == unix.ERANGE && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// whiteout turns an OCI whiteout entry into its overlayfs form: .wh.<name>
// becomes a 0/0 character device <name>; .wh..wh..opq marks its directory
// opaque; other .wh..wh. entries (aufs bookkeeping) are skipped.
func (u *unpacker) whiteout(dirRel, base string) error {
	if base == whiteoutOpaque {
		fd, err := u.dir(dirRel)
		if err != nil {
			return err
		}
		return unix.Setxattr(procPath(fd, ""), opaqueXattr, []byte("y"), 0)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		u.log.Debug("aufs metadata entry skipped", "name", path.Join(dirRel, base))
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("%w: whiteout %q names nothing", ErrBadHeader, base)
	}
	pfd, err := u.dir(dirRel)
	if err != nil {
		return err
	}
	if err := u.removeAt(pfd, name); err != nil {
		return err
	}
	return unix.Mknodat(pfd, name, unix.S_IFCHR, 0)
}

// finish sets directory times, which every entry created inside a
// directory disturbed. Setting a directory's times does not touch its
// parent's, so the order does not matter.
func (u *unpacker) finish() error {
	u.dropCache()
	for rel, t := range u.times {
		ts := []unix.Timespec{t.atime, t.mtime}
		if rel == "" {
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, procPath(u.root, ""), ts, 0); err != nil {
				return fail("/", err)
			}
			continue
		}
		dir, base := splitRel(rel)
		pfd, err := openIn(u.root, dir, unix.O_PATH|unix.O_DIRECTORY, inRoot)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			continue // removed by a later entry
		}
		if err == nil {
			var st unix.Stat_t
			if err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
				err = unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
			}
			unix.Close(pfd)
		}
		if err != nil && err != unix.ENOENT {
			return fail(rel, err)
		}
	}
	return nil
}
