//go:build linux && !watch_fsnotify

package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
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
	ftree   *fanTree // TreeFanotify: the tree group (inFd and in are unused then)
	tree    Tree
	treeWhy error // TreeAuto fell back to inotify: why
	leases  *leaseTable
	sigs    chan os.Signal // Lease mode: SIGIO, sent by the kernel on a lease break
	users   userCache

	inCh    chan []rawEvent
	fanCh   chan fanOpen
	leaseCh chan []string
	treeCh  chan []treeEvent

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
	closing  map[string]time.Time  // closed by one writer while another may remain: looked at again by then (closing_linux.go)
	closes   atomic.Uint64         // Closed events reported so far (read by the fanotify goroutine)
	closeSeq map[string]uint64     // Fanotify mode: closes' numbers by path, recent ones
	timer    *time.Timer
	cookie   uint32 // TreeFanotify: the last cookie given to a rename's halves
	live     bool   // the loop runs: the queue may be sent on
	limited  bool   // some folder could not be watched (a watch limit); Limited was reported
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
	w := newWatcher(root, real, opts)
	started := false
	defer func() {
		if !started {
			w.release()
		}
	}()
	if err := w.statRoot(); err != nil {
		return nil, err
	}
	if err := w.chooseTree(); err != nil {
		return nil, err
	}
	if err := w.chooseMode(); err != nil {
		return nil, err
	}
	if err := w.watchRoot(); err != nil {
		return nil, err
	}
	if err := w.checkLeases(); err != nil {
		return nil, err
	}

	w.startWorkers(ctx)
	started = true
	w.live = true
	go w.loop()
	return w, nil
}

// newWatcher returns a Watcher with its channels and tables made and
// nothing opened yet.
func newWatcher(root, real string, opts Options) *Watcher {
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
		closing:  map[string]time.Time{},
		closeSeq: map[string]uint64{},
		timer:    time.NewTimer(time.Hour),
	}
	w.timer.Stop()
	return w
}

// statRoot checks that the root is a folder and notes its identity (see
// openRoot).
func (w *Watcher) statRoot() error {
	var st unix.Stat_t
	if err := unix.Stat(w.real, &st); err != nil {
		return fmt.Errorf("watch %s: %w", w.root, &os.PathError{Op: "stat", Path: w.root, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("watch %s: not a folder", w.root)
	}
	w.rootDev, w.rootIno = st.Dev, st.Ino
	return nil
}

// openInotify opens the inotify instance (TreeInotify).
func (w *Watcher) openInotify() error {
	var err error
	w.inFd, err = inotifyInit()
	if err != nil {
		if errors.Is(err, unix.EMFILE) {
			return w.instanceLimitError(err)
		}
		return fmt.Errorf("watch %s: inotify_init1: %w", w.root, err)
	}
	w.in = os.NewFile(uintptr(w.inFd), "inotify")
	return nil
}

// checkLeases, once the walk has leased what it found, gives up Lease mode
// if the file system refused every lease.
func (w *Watcher) checkLeases() error {
	if w.leases != nil && w.leases.none() {
		// Not one file could be leased, for a reason that is not the file's
		// (the file system has no leases): say so, or do without.
		if w.opts.Mode == Lease {
			return fmt.Errorf("watch %s: lease mode: the file system refuses leases (F_SETLEASE): use another mode", w.root)
		}
		w.dropLeases()
	}
	return nil
}

// startWorkers starts the goroutines that feed the loop: the readers of
// inotify and of the write-open detection, and the one that stops the
// watcher when ctx is done.
func (w *Watcher) startWorkers(ctx context.Context) {
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
	if w.ftree != nil {
		w.treeCh = make(chan []treeEvent, 4)
		w.workers.Add(1)
		go w.readTree()
	} else {
		w.workers.Add(1)
		go w.readInotify()
	}
	w.workers.Add(1)
	go func() {
		defer w.workers.Done()
		select {
		case <-ctx.Done():
			w.stop(nil)
		case <-w.done:
		}
	}()
}

// Events returns the channel events arrive on, in the order they happened
// as far as one source can tell (see the package comment). It is closed when
// the watcher stops. It must be drained: a reader that falls behind makes
// the kernel's queue overflow, which arrives as Overflow.
func (w *Watcher) Events() <-chan Event { return w.events }

// Mode returns the write-open detection in use (never Auto).
func (w *Watcher) Mode() Mode { return w.mode }

// Tree returns where tree changes come from (never TreeAuto).
func (w *Watcher) Tree() Tree { return w.tree }

// TreeFallback says why TreeAuto did not use fanotify (nil if it did, or
// TreeInotify was asked for).
func (w *Watcher) TreeFallback() error { return w.treeWhy }

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
	if w.ftree != nil {
		w.ftree.close()
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
