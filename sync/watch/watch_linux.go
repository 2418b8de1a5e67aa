//go:build linux && !watch_fsnotify

package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Lease re-arming; variables so that tests can shorten them.
var (
	// rearmRetry: a lease refused right after a Closed is tried again this
	// much later, since the closing writer may not have let go of the
	// file yet when its close event is read.
	rearmRetry = 10 * time.Millisecond
	// staleAfter: a broken lease whose writer never closed (a truncate by
	// path breaks a lease with no open at all) is tried again this often;
	// once it can be re-armed, nobody has the file open for writing and a
	// Closed is reported.
	staleAfter = 5 * time.Second
)

const (
	// flushAt: the queue is sent on (blocking) once it is this long, even
	// in the middle of handling one kernel batch or listing a folder.
	flushAt = 1024
	// holdMax: how many events may wait behind the first half of a move
	// before that move is given up as a move out of the root.
	holdMax = 16384
)

// Watcher reports what happens below one root. Create it with New, read
// Events until the channel is closed, then Err tells why it stopped.
type Watcher struct {
	root string // as given, cleaned
	real string // root with symlinks resolved: how /proc names files below it
	opts Options
	mode Mode

	events chan Event
	life
	workers sync.WaitGroup

	rootDev uint64 // the root folder's identity: what openRoot must find at real
	rootIno uint64
	inFd    int
	in      *os.File // the inotify descriptor, for reads the runtime can interrupt
	fan     *os.File // Fanotify mode: the fanotify descriptor
	leases  *leaseTable
	sigs    chan os.Signal // Lease mode: SIGIO, sent by the kernel on a lease break
	users   userCache

	inCh    chan []rawEvent
	fanCh   chan fanOpen
	leaseCh chan []string

	// Everything below is owned by the loop goroutine (by New before it
	// starts).
	top      *dir
	wds      map[int32]*dir
	gen      uint64
	q        []*item
	moves    map[uint32]*move
	moveList []*move
	dirty    map[string]bool       // files whose IN_MODIFY was reported (Changed) since their last Closed
	open     map[string]bool       // files with a WriteOpen reported and no Closed since
	locks    map[string]*lockState // office lock files, by path
	lockSeen map[string]bool       // during a resync: the lock files found
	rearm    map[string]*retry     // Lease mode: files to try leasing again
	unseen   map[string]time.Time  // Fanotify mode: modified with no WriteOpen yet; reported as one by then
	closes   atomic.Uint64         // Closed events reported so far (read by the fanotify goroutine)
	closeSeq map[string]uint64     // Fanotify mode: closes' numbers by path, recent ones
	timer    *time.Timer
	live     bool // the loop runs: the queue may be sent on
	limited  bool // some folder could not be watched (a watch limit); Limited was reported
}

// item is one place in the output queue: an event, or the first half of a
// move waiting for its second (not ready until it is known whether it is a
// rename or a move out of the root).
type item struct {
	ev    Event
	ready bool
}

// move is the first half of a rename (IN_MOVED_FROM) waiting for its second.
type move struct {
	cookie   uint32
	from     string
	isDir    bool
	node     *dir // a folder's watch, to reattach where it lands
	item     *item
	deadline time.Time
	done     bool
}

// retry is a pending lease re-arm.
type retry struct {
	at    time.Time
	stale bool // the periodic check of a lease broken with no Closed since
}

// New starts watching root, an absolute path to a folder, and returns once
// every folder below it is watched, or as many as a watch limit allows (the
// first event is then Limited): what happens from then on is reported.
// Files already open for writing when it starts are reported as WriteOpen
// where the mode can see them (office lock files always; open descriptors
// in Lease mode, and in Fanotify mode by a look through /proc). The watcher stops when ctx is done or Close is called.
func New(ctx context.Context, root string, opts Options) (*Watcher, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("watch: root %q is not an absolute path", root)
	}
	root = filepath.Clean(root)
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	if opts.MaxLeases <= 0 {
		opts.MaxLeases = DefaultMaxLeases
	}
	w := &Watcher{
		root: root, real: real, opts: opts,
		inFd:     -1,
		events:   make(chan Event, 256),
		life:     newLife(),
		inCh:     make(chan []rawEvent, 4),
		wds:      map[int32]*dir{},
		moves:    map[uint32]*move{},
		dirty:    map[string]bool{},
		open:     map[string]bool{},
		locks:    map[string]*lockState{},
		rearm:    map[string]*retry{},
		unseen:   map[string]time.Time{},
		closeSeq: map[string]uint64{},
		timer:    time.NewTimer(time.Hour),
	}
	w.timer.Stop()
	started := false
	defer func() {
		if !started {
			w.release()
		}
	}()
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, &os.PathError{Op: "stat", Path: root, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("watch %s: not a folder", root)
	}
	w.rootDev, w.rootIno = st.Dev, st.Ino
	w.inFd, err = inotifyInit()
	if err != nil {
		if errors.Is(err, unix.EMFILE) {
			return nil, w.instanceLimitError(err)
		}
		return nil, fmt.Errorf("watch %s: inotify_init1: %w", root, err)
	}
	w.in = os.NewFile(uintptr(w.inFd), "inotify")
	if err := w.chooseMode(); err != nil {
		return nil, err
	}
	if err := w.watchRoot(); err != nil {
		return nil, err
	}
	if w.leases != nil && w.leases.none() {
		// Not one file could be leased, for a reason that is not the file's
		// (the file system has no leases): say so, or do without.
		if opts.Mode == Lease {
			return nil, fmt.Errorf("watch %s: lease mode: the file system refuses leases (F_SETLEASE): use another mode", root)
		}
		w.dropLeases()
	}

	if w.fan != nil {
		// After the walk, so that every folder is watched and a writer
		// found open here has its Closed seen.
		w.reportOpenWriters()
		w.fanCh = make(chan fanOpen, 64)
		w.workers.Add(1)
		go w.readFanotify()
	}
	if w.leases != nil {
		w.leaseCh = make(chan []string, 64)
		w.workers.Add(1)
		go w.watchLeases()
	}
	w.workers.Add(2)
	go w.readInotify()
	go func() {
		defer w.workers.Done()
		select {
		case <-ctx.Done():
			w.stop(nil)
		case <-w.done:
		}
	}()
	started = true
	w.live = true
	go w.loop()
	return w, nil
}

// chooseMode sets up write-open detection for opts.Mode.
func (w *Watcher) chooseMode() error {
	switch w.opts.Mode {
	case Auto:
		if os.Geteuid() == 0 {
			if f, err := openFanotify(w.real); err == nil {
				w.fan, w.mode = f, Fanotify
				return nil
			}
		}
		if leasesEnabled() {
			w.startLeases()
			return nil
		}
		w.mode = InotifyOnly
	case Fanotify:
		f, err := openFanotify(w.real)
		if err != nil {
			return fmt.Errorf("watch %s: fanotify mode: %w (it needs root, CAP_SYS_ADMIN, and a file system that takes a filesystem mark)", w.root, err)
		}
		w.fan, w.mode = f, Fanotify
	case Lease:
		if !leasesEnabled() {
			return fmt.Errorf("watch %s: lease mode: leases are disabled (fs.leases-enable is 0)", w.root)
		}
		w.startLeases()
	case InotifyOnly:
		w.mode = InotifyOnly
	default:
		return fmt.Errorf("watch %s: unknown mode %d", w.root, w.opts.Mode)
	}
	return nil
}

func (w *Watcher) startLeases() {
	w.mode = Lease
	w.leases = &leaseTable{max: w.opts.MaxLeases, files: map[string]*lease{}}
	// Notify before the first lease is taken: a break must never find the
	// signal ignored, or its writer waits for the kernel's lease-break-time.
	w.sigs = make(chan os.Signal, 1)
	signal.Notify(w.sigs, unix.SIGIO)
}

// dropLeases falls back from Lease to InotifyOnly.
func (w *Watcher) dropLeases() {
	w.leases.closeAll()
	w.leases = nil
	signal.Stop(w.sigs)
	w.sigs = nil
	w.mode = InotifyOnly
	clear(w.rearm)
}

// Events returns the channel events arrive on, in the order they happened
// as far as one source can tell (see the package comment). It is closed when
// the watcher stops. It must be drained: a reader that falls behind makes
// the kernel's queue overflow, which arrives as Overflow.
func (w *Watcher) Events() <-chan Event { return w.events }

// Mode returns the write-open detection in use (never Auto).
func (w *Watcher) Mode() Mode { return w.mode }

// Root returns the root as given to New, cleaned.
func (w *Watcher) Root() string { return w.root }

// release closes what New opened; the goroutines must have ended.
func (w *Watcher) release() {
	if w.sigs != nil {
		signal.Stop(w.sigs)
	}
	if w.leases != nil {
		w.leases.closeAll()
	}
	if w.fan != nil {
		w.fan.Close()
	}
	if w.in != nil {
		w.in.Close()
	}
}

// loop is the one goroutine that owns the watcher's state: it takes the
// kernel's events, the write-opens found by the fanotify and lease
// goroutines and its own timers, and sends events on.
func (w *Watcher) loop() {
	defer func() {
		w.stop(nil)
		w.in.Close() // ends readInotify's read
		if w.fan != nil {
			w.fan.Close()
		}
		w.workers.Wait()
		w.release()
		w.timer.Stop()
		close(w.events)
		close(w.finished)
	}()
	for {
		if !w.flush() {
			return
		}
		// Write-opens first: they come from paths faster than inotify's
		// and should, where possible, precede the Changed their writer
		// causes.
		select {
		case r := <-w.fanCh:
			w.onFanOpen(r)
			continue
		case b := <-w.leaseCh:
			w.onLeaseBreak(b)
			continue
		default:
		}
		var timer <-chan time.Time
		if at, ok := w.nextDeadline(); ok {
			w.timer.Reset(time.Until(at))
			timer = w.timer.C
		}
		select {
		case <-w.done:
			return
		case evs := <-w.inCh:
			for _, ev := range evs {
				w.handle(ev)
				if w.stopped() {
					return
				}
			}
		case r := <-w.fanCh:
			w.onFanOpen(r)
		case b := <-w.leaseCh:
			w.onLeaseBreak(b)
		case <-timer:
			w.onTimer(time.Now())
		}
		if w.stopped() {
			return
		}
	}
}

// queue queues an event without sending anything on: a new folder's
// Created is sent only once the folder is watched (appeared), so a reader
// who acts on it finds it watched.
func (w *Watcher) queue(ev Event) { w.q = append(w.q, &item{ev: ev, ready: true}) }

// push queues an event; a long queue is sent on at once.
func (w *Watcher) push(ev Event) {
	w.q = append(w.q, &item{ev: ev, ready: true})
	if w.live && len(w.q) >= flushAt {
		w.flush()
		if len(w.q) >= holdMax {
			// Stuck behind a move's first half: give it up.
			w.expireMoves(time.Time{}, true)
			w.flush()
		}
	}
}

// flush sends the ready events at the head of the queue, blocking on the
// reader. It returns false if the watcher stopped meanwhile.
func (w *Watcher) flush() bool {
	n := 0
	for n < len(w.q) && w.q[n].ready {
		select {
		case w.events <- w.q[n].ev:
			w.q[n] = nil
			n++
		case <-w.done:
			return false
		}
	}
	if n > 0 {
		w.q = w.q[n:]
		if len(w.q) == 0 {
			w.q = nil // let the backing array go
		}
	}
	return true
}

// nextDeadline returns the earliest time a timer is due.
func (w *Watcher) nextDeadline() (time.Time, bool) {
	var at time.Time
	set := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	for _, m := range w.moveList {
		if !m.done {
			set(m.deadline)
			break // in arrival order: the first is the earliest
		}
	}
	for _, l := range w.locks {
		if !l.announced {
			set(l.deadline)
		}
	}
	for _, r := range w.rearm {
		set(r.at)
	}
	for _, t := range w.unseen {
		set(t)
	}
	return at, !at.IsZero()
}

func (w *Watcher) onTimer(now time.Time) {
	w.expireMoves(now, false)
	for rel, l := range w.locks {
		if !l.announced && !now.Before(l.deadline) {
			w.announce(rel, l)
		}
	}
	for rel, r := range w.rearm {
		if now.Before(r.at) {
			continue
		}
		delete(w.rearm, rel)
		w.retryLease(rel, r)
	}
	for rel, t := range w.unseen {
		if !now.Before(t) {
			delete(w.unseen, rel)
			if !w.open[rel] {
				w.writeOpen(Event{Op: WriteOpen, Path: rel})
			}
		}
	}
}

// noteClose numbers a Closed, so that a fanotify answer found before it is
// not reported after it (see onFanOpen).
func (w *Watcher) noteClose(rel string) {
	n := w.closes.Add(1)
	if w.mode != Fanotify {
		return
	}
	if len(w.closeSeq) >= 4096 {
		// Answers take milliseconds: only the latest closes matter.
		clear(w.closeSeq)
	}
	w.closeSeq[rel] = n
}

// expireMoves settles as moves out of the root the moves whose second half
// has not come by now (whatever their deadline if now is zero), or only the
// oldest of them if oldestOnly is set.
func (w *Watcher) expireMoves(now time.Time, oldestOnly bool) {
	i := 0
	for ; i < len(w.moveList); i++ {
		m := w.moveList[i]
		if m.done {
			continue
		}
		if !now.IsZero() && now.Before(m.deadline) {
			break
		}
		w.moveOut(m)
		if oldestOnly {
			i++
			break
		}
	}
	w.moveList = w.moveList[i:]
	if len(w.moveList) == 0 {
		w.moveList = nil
	}
}

// moveOut settles m as a move out of the root.
func (w *Watcher) moveOut(m *move) {
	m.done = true
	delete(w.moves, m.cookie)
	m.item.ev = Event{Op: Removed, Path: m.from, IsDir: m.isDir}
	m.item.ready = true
	if m.node != nil {
		w.unwatch(m.node)
	}
	w.gone(m.from)
}

// handle acts on one inotify event.
func (w *Watcher) handle(ev rawEvent) {
	if ev.mask&unix.IN_Q_OVERFLOW != 0 {
		w.overflow()
		return
	}
	d := w.wds[ev.wd]
	if d == nil {
		return // a watch already forgotten
	}
	if ev.mask&unix.IN_IGNORED != 0 {
		w.forget(d)
		if d == w.top {
			w.stop(fmt.Errorf("watch %s: the root is no longer watched (removed or unmounted)", w.root))
		}
		return
	}
	if ev.name == "" {
		// A folder's own event; its parent reports the same by name.
		if d == w.top {
			switch {
			case ev.mask&unix.IN_DELETE_SELF != 0:
				w.stop(fmt.Errorf("watch %s: the root was removed", w.root))
			case ev.mask&unix.IN_MOVE_SELF != 0:
				w.stop(fmt.Errorf("watch %s: the root was moved away", w.root))
			case ev.mask&unix.IN_UNMOUNT != 0:
				w.stop(fmt.Errorf("watch %s: the root's file system was unmounted", w.root))
			}
		}
		return
	}
	base, ok := w.dirPath(d)
	if !ok {
		return // a folder moved or removed, not yet settled
	}
	rel := join(base, ev.name)
	if !validPath(rel) {
		return
	}
	isDir := ev.mask&unix.IN_ISDIR != 0
	if doc, isLock := officeLock(ev.name, isDir); isLock {
		w.onLockFile(rel, doc, ev.mask)
		return
	}
	excluded := w.opts.Filter.Excluded(rel, isDir)
	switch {
	case ev.mask&unix.IN_MOVED_TO != 0:
		w.movedTo(d, ev.name, rel, isDir, ev.cookie, excluded)
	case excluded:
	case ev.mask&unix.IN_CREATE != 0:
		w.queue(Event{Op: Created, Path: rel, IsDir: isDir})
		w.appeared(d, ev.name, rel, isDir, walkNew)
	case ev.mask&unix.IN_MOVED_FROM != 0:
		w.movedFrom(d, ev.name, rel, isDir, ev.cookie)
	case ev.mask&unix.IN_DELETE != 0:
		w.push(Event{Op: Removed, Path: rel, IsDir: isDir})
		if k := d.kids[ev.name]; k != nil && isDir {
			w.unwatch(k)
		}
		w.gone(rel)
	case ev.mask&unix.IN_CLOSE_WRITE != 0:
		if _, ok := w.unseen[rel]; ok {
			// Written and closed before fanotify could name the opener.
			delete(w.unseen, rel)
			if !w.open[rel] {
				w.push(Event{Op: WriteOpen, Path: rel})
			}
		}
		w.push(Event{Op: Closed, Path: rel})
		delete(w.open, rel)
		delete(w.dirty, rel)
		w.noteClose(rel)
		if w.leases != nil {
			w.armFile(rel, true)
		}
	case ev.mask&unix.IN_MODIFY != 0:
		if w.dirty[rel] {
			return // reported since the last close
		}
		w.dirty[rel] = true
		switch {
		case w.open[rel]:
		case w.modifyIsOpen(rel):
			w.writeOpen(Event{Op: WriteOpen, Path: rel})
		case w.mode == Fanotify:
			// fanotify's answer for this open may still be on its way: if
			// none comes, the modification stands for the open.
			w.unseen[rel] = time.Now().Add(fanGrace)
		}
		w.push(Event{Op: Changed, Path: rel})
	case ev.mask&unix.IN_ATTRIB != 0:
		w.push(Event{Op: Changed, Path: rel, IsDir: isDir})
	}
}

// modifyIsOpen reports whether a first modification of rel stands for its
// write-open: when nothing else can see the open.
func (w *Watcher) modifyIsOpen(rel string) bool {
	switch w.mode {
	case InotifyOnly:
		return true
	case Lease:
		return w.leases == nil || !w.leases.tracked(rel)
	}
	return false
}

// writeOpen reports ev, a WriteOpen, and remembers the file as open.
func (w *Watcher) writeOpen(ev Event) {
	w.open[ev.Path] = true
	w.push(ev)
}

// appeared acts on a new file or folder (created, moved in or found in a
// new folder): a folder is watched and listed (kind says what to report of
// its content), a file leased.
func (w *Watcher) appeared(parent *dir, name, rel string, isDir bool, kind walkKind) {
	if !isDir {
		if w.leases != nil {
			w.armFile(rel, false)
		}
		return
	}
	fd, err := w.openRel(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return // gone already, or replaced by a symlink: later events say
	}
	child, err := w.addWatch(parent, name, rel, fd)
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, ErrWatchLimit) {
			w.limitReached(rel, err)
		}
		return
	}
	w.walk(child, rel, fd, kind)
}

// limitReached notes that the folder rel could not be watched for err, a
// watch limit: the first time, Limited is reported. The watcher goes on
// with what it watches; the agent scans for the rest.
func (w *Watcher) limitReached(rel string, err error) {
	if w.limited {
		return
	}
	w.limited = true
	w.push(Event{Op: Limited, Path: rel, IsDir: true, Err: err})
}

// watched reports whether the folder rel ("" for the root) is watched.
func (w *Watcher) watched(rel string) bool {
	d := w.top
	for rel != "" && d != nil {
		name, rest, _ := strings.Cut(rel, "/")
		d, rel = d.kids[name], rest
	}
	return d != nil
}

func (w *Watcher) movedFrom(d *dir, name, rel string, isDir bool, cookie uint32) {
	it := &item{}
	w.q = append(w.q, it)
	m := &move{cookie: cookie, from: rel, isDir: isDir, item: it, deadline: time.Now().Add(moveWait)}
	if isDir {
		m.node = d.kids[name]
	}
	if old := w.moves[cookie]; old != nil {
		w.moveOut(old) // cookies are unique; be safe anyway
	}
	w.moves[cookie] = m
	w.moveList = append(w.moveList, m)
}

func (w *Watcher) movedTo(d *dir, name, rel string, isDir bool, cookie uint32, excluded bool) {
	m := w.moves[cookie]
	if m == nil {
		// From outside the root, from an unwatched (excluded) folder, or
		// from an excluded name: it appears.
		if !excluded {
			w.queue(Event{Op: Created, Path: rel, IsDir: isDir})
			w.appeared(d, name, rel, isDir, walkNew)
		}
		return
	}
	if excluded {
		w.moveOut(m)
		return
	}
	m.done = true
	delete(w.moves, cookie)
	m.item.ev = Event{Op: Renamed, Path: rel, OldPath: m.from, IsDir: isDir}
	m.item.ready = true
	w.gone(rel) // whatever was there is replaced
	rekey(w.dirty, m.from, rel)
	rekey(w.open, m.from, rel)
	rekey(w.rearm, m.from, rel)
	rekey(w.unseen, m.from, rel)
	rekeyLocks(w.locks, m.from, rel)
	if w.leases != nil {
		w.leases.rename(m.from, rel)
	}
	if !isDir {
		return
	}
	if m.node != nil {
		w.attach(m.node, d, name)
		return
	}
	// A folder we had no watch on (its watch failed): watch it now; its
	// content is not new.
	w.appeared(d, name, rel, true, walkResync)
}

// gone forgets what the watcher holds about rel and everything below it:
// it was removed, moved out, or replaced.
func (w *Watcher) gone(rel string) {
	dropUnder(w.dirty, rel)
	dropUnder(w.open, rel)
	dropUnder(w.rearm, rel)
	dropUnder(w.unseen, rel)
	if w.leases != nil {
		w.leases.drop(rel)
	}
	// Office lock files below a folder that went: their documents went
	// with them, and so did the sessions that held them.
	for lock, l := range w.locks {
		if lock != rel && under(lock, rel) {
			delete(w.locks, lock)
			if l.announced && l.docPath != "" {
				w.push(Event{Op: Closed, Path: l.docPath, LockFile: lock})
			}
		}
	}
}

// overflow: events were lost. Moves waiting for their second half are
// settled as moves out (the agent rescans anyway), the watches are checked
// against the tree, and the lock files and leases are re-read.
func (w *Watcher) overflow() {
	w.expireMoves(time.Time{}, false)
	w.push(Event{Op: Overflow})
	clear(w.dirty)
	if err := w.resync(); err != nil {
		w.stop(err)
		return
	}
	w.recheckOpen()
}

// recheckOpen reports the Closed of files reported open whose close may
// have been among the events lost: those gone, and those nobody has open
// for writing now (the kernel refuses a read lease exactly when someone
// has). Where no lease can tell, a file stays open until its next close.
// Without this a lock taken for a writer long gone would be held for ever.
func (w *Watcher) recheckOpen() {
	for rel := range w.open {
		fd, err := w.openRel(rel, leaseFlags)
		if err == nil {
			if busy, known := writtenNow(fd); busy || !known {
				continue
			}
		} else if !errors.Is(err, unix.ENOENT) {
			continue
		}
		w.push(Event{Op: Closed, Path: rel})
		delete(w.open, rel)
		w.noteClose(rel)
		if w.leases != nil && err == nil {
			w.armFile(rel, true)
		}
	}
}

// openRoot opens the root afresh and checks that it is still the folder
// being watched. The watcher keeps no descriptor of it: a folder's
// IN_DELETE_SELF waits for its last user to let go, so a descriptor held
// would hide the root's removal.
func (w *Watcher) openRoot() (int, error) {
	fd, err := unix.Open(w.real, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != w.rootDev || st.Ino != w.rootIno {
		unix.Close(fd)
		return -1, unix.ESTALE
	}
	return fd, nil
}

// openRel opens rel below the root (see openBeneath), or the root itself
// for "".
func (w *Watcher) openRel(rel string, flags int) (int, error) {
	rfd, err := w.openRoot()
	if err != nil || rel == "" {
		return rfd, err
	}
	defer unix.Close(rfd)
	return openBeneath(rfd, rel, flags)
}
