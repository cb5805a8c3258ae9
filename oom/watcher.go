package oom

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/cgroups"
)

// Event reports that the OOM killer ended processes in a watched cgroup.
type Event struct {
	// ID is the id the cgroup was added under.
	ID string
	// OOMKills is the cgroup's kill counter after the kill: cumulative,
	// so a consumer can tell a new kill from one it has recorded.
	OOMKills uint64
	// Time is when the watcher saw the counter grow.
	Time time.Time
}

// epoll tokens: the epoll_event data of each fd in the set. Eventfds of v1
// cgroups get fresh tokens from firstWatchToken up, never reused while in
// the set, so an event that raced a Remove finds no watch instead of a
// stranger that reused the fd number.
const (
	tokenWake uint32 = iota
	tokenInotify
	tokenRecheck
	firstWatchToken
)

// recheckEvery and recheckTimes bound how long a v1 OOM notification that
// came without a kill is followed up: the kernel signals the eventfd as the
// OOM starts, before the victim is chosen and the counter raised, so the
// counter is looked at again for up to half a second.
const (
	recheckEvery = 25 * time.Millisecond
	recheckTimes = 20
)

// Watcher watches the OOM kill counters of many cgroups with one goroutine
// and one epoll set. Its methods are safe for concurrent use.
type Watcher struct {
	handle func(Event)
	log    *slog.Logger
	epfd   int
	wake   int // eventfd: Close writes it to stop the goroutine
	timer  int // timerfd for v1 rechecks
	done   chan struct{}

	mu        sync.Mutex // guards everything below
	closed    bool
	inotify   int // -1 until the first v2 cgroup is added
	nextToken uint32
	byID      map[string]*watch
	byToken   map[uint32]*watch  // v1
	byWD      map[int32][]*watch // v2; one memory.events may serve several ids
	recheck   map[*watch]int     // v1 watches to look at again, with attempts left
	armed     bool               // timer is set
}

// watch is one watched cgroup.
type watch struct {
	id    string
	cg    cgroups.Cgroup
	kills uint64 // the counter as last seen
	efd   int    // v1 eventfd, or -1
	token uint32 // v1
	wd    int32  // v2 inotify watch descriptor, or -1
}

// New starts a Watcher whose goroutine calls handle for every kill it sees,
// one call at a time. handle runs on the watcher's goroutine: it should be
// brief, may call Add and Remove, and must not call Close. A nil log
// discards the watcher's logging.
func New(handle func(Event), log *slog.Logger) (*Watcher, error) {
	if handle == nil {
		panic("oom: New with a nil handler")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		handle: handle, log: log,
		epfd: -1, wake: -1, timer: -1, inotify: -1,
		done:      make(chan struct{}),
		nextToken: firstWatchToken,
		byID:      map[string]*watch{},
		byToken:   map[uint32]*watch{},
		byWD:      map[int32][]*watch{},
		recheck:   map[*watch]int{},
	}
	var err error
	if w.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("oom: epoll_create1: %w", err)
	}
	if w.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		w.closeFDs()
		return nil, fmt.Errorf("oom: eventfd: %w", err)
	}
	if w.timer, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK); err != nil {
		w.closeFDs()
		return nil, fmt.Errorf("oom: timerfd_create: %w", err)
	}
	for fd, tok := range map[int]uint32{w.wake: tokenWake, w.timer: tokenRecheck} {
		if err := w.epollAdd(fd, tok); err != nil {
			w.closeFDs()
			return nil, err
		}
	}
	go w.run()
	return w, nil
}

func (w *Watcher) epollAdd(fd int, token uint32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(token)}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("oom: epoll_ctl: %w", err)
	}
	return nil
}

// Add watches the OOM kill counter of c under id. Kills before Add are
// not reported: the counter read at Add is the baseline (the exit path's
// cgroups.OOMKills covers those).
func (w *Watcher) Add(id string, c cgroups.Cgroup) error {
	dir, ok := c.Dir("memory")
	if !ok {
		return fmt.Errorf("oom: watch %s: %w: memory", id, cgroups.ErrNoController)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if _, dup := w.byID[id]; dup {
		return fmt.Errorf("%w: %s", ErrAlreadyWatched, id)
	}
	wt := &watch{id: id, cg: c, efd: -1, wd: -1}
	var err error
	if c.IsV2() {
		err = w.addV2Locked(wt, dir)
	} else {
		err = w.addV1Locked(wt, dir)
	}
	if err != nil {
		return fmt.Errorf("oom: watch %s: %w", id, err)
	}
	// The baseline is read after registering, so no kill falls between
	// the two unseen.
	if wt.kills, err = cgroups.OOMKills(c); err != nil {
		w.forgetLocked(wt, true)
		return fmt.Errorf("oom: watch %s: %w", id, err)
	}
	w.byID[id] = wt
	return nil
}

// addV1Locked registers an eventfd for the memory cgroup's OOM
// notifications: "<eventfd> <fd of memory.oom_control>" written to
// cgroup.event_control. The kernel signals it when the cgroup enters OOM,
// and once more when the cgroup is removed; closing the eventfd
// unregisters it.
func (w *Watcher) addV1Locked(wt *watch, dir string) error {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	if err := register(efd, dir); err != nil {
		unix.Close(efd)
		return err
	}
	for w.byToken[w.nextToken] != nil || w.nextToken < firstWatchToken {
		w.nextToken++
	}
	wt.efd, wt.token = efd, w.nextToken
	w.nextToken++
	if err := w.epollAdd(efd, wt.token); err != nil {
		unix.Close(efd)
		return err
	}
	w.byToken[wt.token] = wt
	return nil
}

func register(efd int, dir string) error {
	ctl, err := unix.Open(filepath.Join(dir, "memory.oom_control"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return notExist(dir, err)
	}
	defer unix.Close(ctl)
	ec, err := unix.Open(filepath.Join(dir, "cgroup.event_control"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return notExist(dir, err)
	}
	defer unix.Close(ec)
	if _, err := unix.Write(ec, []byte(strconv.Itoa(efd)+" "+strconv.Itoa(ctl))); err != nil {
		return fmt.Errorf("register with %s/cgroup.event_control: %w", dir, err)
	}
	return nil
}

func notExist(dir string, err error) error {
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%w: %s: %w", cgroups.ErrNotExist, dir, err)
	}
	return err
}

// addV2Locked adds an inotify watch on memory.events, which the kernel
// touches (IN_MODIFY) whenever one of its counters changes.
func (w *Watcher) addV2Locked(wt *watch, dir string) error {
	if w.inotify < 0 {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return fmt.Errorf("inotify_init1: %w", err)
		}
		if err := w.epollAdd(fd, tokenInotify); err != nil {
			unix.Close(fd)
			return err
		}
		w.inotify = fd
	}
	wd, err := unix.InotifyAddWatch(w.inotify, filepath.Join(dir, "memory.events"), unix.IN_MODIFY)
	if err != nil {
		return notExist(dir, err)
	}
	wt.wd = int32(wd)
	w.byWD[wt.wd] = append(w.byWD[wt.wd], wt)
	return nil
}

// Remove stops watching id. Removing an id not watched (or whose cgroup
// was removed, which ends its watch) does nothing.
func (w *Watcher) Remove(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt, ok := w.byID[id]; ok {
		w.forgetLocked(wt, true)
	}
}

// Watched lists the ids being watched, sorted.
func (w *Watcher) Watched() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.byID))
}

// forgetLocked drops a watch and releases its kernel side. rmWatch is false
// when the kernel already removed an inotify watch (IN_IGNORED).
func (w *Watcher) forgetLocked(wt *watch, rmWatch bool) {
	if w.byID[wt.id] == wt {
		delete(w.byID, wt.id)
	}
	delete(w.recheck, wt)
	if wt.efd >= 0 {
		_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, wt.efd, nil)
		unix.Close(wt.efd)
		delete(w.byToken, wt.token)
		wt.efd = -1
	}
	if wt.wd >= 0 {
		rest := slices.DeleteFunc(w.byWD[wt.wd], func(o *watch) bool { return o == wt })
		if len(rest) > 0 {
			w.byWD[wt.wd] = rest
		} else {
			delete(w.byWD, wt.wd)
			if rmWatch {
				// EINVAL when the kernel dropped it already.
				_, _ = unix.InotifyRmWatch(w.inotify, uint32(wt.wd))
			}
		}
		wt.wd = -1
	}
}

// Close stops the goroutine, waits for it (and for a handle call under
// way), and releases every fd. It is idempotent.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()

	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(w.wake, one[:]); err != nil {
		// Without the wake-up the goroutine cannot be stopped; this
		// cannot fail for an eventfd short of 2^64-1 writes.
		return fmt.Errorf("oom: wake watcher: %w", err)
	}
	<-w.done

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wt := range w.byID {
		w.forgetLocked(wt, false)
	}
	w.closeFDs()
	return nil
}

func (w *Watcher) closeFDs() {
	for _, fd := range []*int{&w.inotify, &w.timer, &w.wake, &w.epfd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// run is the watcher's goroutine: wait, work out the kills under the lock,
// report them outside it.
func (w *Watcher) run() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 32)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			w.log.Error("oom: epoll_wait failed, OOM events are no longer watched", "err", err)
			return
		}
		var out []Event
		stop := false
		w.mu.Lock()
		for _, ev := range events[:n] {
			switch tok := uint32(ev.Fd); tok {
			case tokenWake:
				stop = true
			case tokenInotify:
				out = w.readInotifyLocked(out)
			case tokenRecheck:
				out = w.recheckLocked(out)
			default:
				out = w.eventfdLocked(tok, out)
			}
		}
		w.mu.Unlock()
		for _, e := range out {
			w.handle(e)
		}
		if stop {
			return
		}
	}
}

// checkLocked reads wt's counter and appends an Event if it grew. It
// reports whether the counter grew, and drops the watch when its cgroup is
// gone.
func (w *Watcher) checkLocked(wt *watch, out []Event) ([]Event, bool) {
	kills, err := cgroups.OOMKills(wt.cg)
	if errors.Is(err, cgroups.ErrNotExist) {
		w.log.Debug("oom: cgroup removed, watch ends", "id", wt.id)
		w.forgetLocked(wt, true)
		return out, false
	}
	if err != nil {
		w.log.Warn("oom: read OOM counter", "id", wt.id, "err", err)
		return out, false
	}
	if kills <= wt.kills {
		return out, false
	}
	wt.kills = kills
	return append(out, Event{ID: wt.id, OOMKills: kills, Time: time.Now()}), true
}

// eventfdLocked handles a v1 notification.
func (w *Watcher) eventfdLocked(token uint32, out []Event) []Event {
	wt, ok := w.byToken[token]
	if !ok {
		return out // removed after epoll_wait returned
	}
	var buf [8]byte
	if _, err := unix.Read(wt.efd, buf[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
		w.log.Warn("oom: read eventfd, watch ends", "id", wt.id, "err", err)
		w.forgetLocked(wt, true)
		return out
	}
	out, grew := w.checkLocked(wt, out)
	if !grew && w.byID[wt.id] == wt {
		w.log.Debug("oom: notified before the kill was counted, rechecking", "id", wt.id)
		w.recheck[wt] = recheckTimes
		w.armLocked()
	}
	return out
}

// recheckLocked looks again at the v1 cgroups notified without a kill yet.
func (w *Watcher) recheckLocked(out []Event) []Event {
	var buf [8]byte
	_, _ = unix.Read(w.timer, buf[:])
	w.armed = false
	for wt, left := range w.recheck {
		var grew bool
		out, grew = w.checkLocked(wt, out)
		if grew || left <= 1 {
			delete(w.recheck, wt)
		} else if _, live := w.recheck[wt]; live {
			w.recheck[wt] = left - 1
		}
	}
	if len(w.recheck) > 0 {
		w.armLocked()
	}
	return out
}

func (w *Watcher) armLocked() {
	if w.armed {
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(recheckEvery))}
	if err := unix.TimerfdSettime(w.timer, 0, &spec, nil); err != nil {
		w.log.Warn("oom: arm recheck timer", "err", err)
		return
	}
	w.armed = true
}

// readInotifyLocked drains the inotify fd and checks the cgroups whose
// memory.events changed.
func (w *Watcher) readInotifyLocked(out []Event) []Event {
	var buf [4096]byte
	changed := map[int32]bool{}
	overflow := false
	for {
		n, err := unix.Read(w.inotify, buf[:])
		if err != nil || n <= 0 {
			break
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			off += unix.SizeofInotifyEvent + int(ev.Len)
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				overflow = true
			case ev.Mask&unix.IN_IGNORED != 0:
				// The file went away with its cgroup (or Remove asked).
				for _, wt := range slices.Clone(w.byWD[ev.Wd]) {
					w.forgetLocked(wt, false)
				}
			case ev.Mask&unix.IN_MODIFY != 0:
				changed[ev.Wd] = true
			}
		}
	}
	for wd, watches := range w.byWD {
		if !changed[wd] && !overflow {
			continue
		}
		for _, wt := range slices.Clone(watches) {
			out, _ = w.checkLocked(wt, out)
		}
	}
	return out
}
