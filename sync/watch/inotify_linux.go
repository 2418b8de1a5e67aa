//go:build linux && !watch_fsnotify

package watch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// inMask is what every folder's watch asks for. IN_EXCL_UNLINK drops events
// of files still open after their name was removed; IN_ONLYDIR refuses a
// watch on anything but a folder.
const inMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_MODIFY | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

// The kernel calls, variables so that tests can make them fail.
var (
	inotifyInit     = func() (int, error) { return unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK) }
	inotifyAddWatch = unix.InotifyAddWatch
)

// rawEvent is one inotify event as the kernel gave it.
type rawEvent struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

// parseInotify decodes a read from an inotify descriptor.
func parseInotify(b []byte) []rawEvent {
	out := make([]rawEvent, 0, len(b)/(unix.SizeofInotifyEvent+16))
	for len(b) >= unix.SizeofInotifyEvent {
		n := int(binary.NativeEndian.Uint32(b[12:]))
		end := unix.SizeofInotifyEvent + n
		if end > len(b) {
			break
		}
		name := b[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		out = append(out, rawEvent{
			wd:     int32(binary.NativeEndian.Uint32(b[0:])),
			mask:   binary.NativeEndian.Uint32(b[4:]),
			cookie: binary.NativeEndian.Uint32(b[8:]),
			name:   string(name),
		})
		b = b[end:]
	}
	return out
}

// readInotify reads the kernel's events and hands them to the loop. While
// the loop is busy (its reader is slow) it waits, and the kernel's queue
// fills until it overflows: that is the back-pressure.
func (w *Watcher) readInotify() {
	defer w.workers.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := w.in.Read(buf)
		if err != nil {
			if w.stopped() || errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			w.stop(fmt.Errorf("watch %s: reading inotify: %w", w.root, err))
			return
		}
		evs := parseInotify(buf[:n])
		select {
		case w.inCh <- evs:
		case <-w.done:
			return
		}
	}
}

// dir is a watched folder. The tree of dirs mirrors the watched folders, so
// a folder's rename is one reattachment, and the paths below it follow.
type dir struct {
	wd     int32
	name   string
	parent *dir
	kids   map[string]*dir // watched sub-folders by name
	gen    uint64          // the last walk that found it
}

// dirPath returns d's path relative to the root, or false if d is no longer
// attached to the root (removed, or moved and not yet settled).
func (w *Watcher) dirPath(d *dir) (string, bool) {
	n, hops := 0, 0
	x := d
	for ; x != nil && x != w.top; x = x.parent {
		n += len(x.name) + 1
		if hops++; hops > len(w.wds) {
			return "", false // a cycle cannot happen; never loop on one
		}
	}
	if x == nil {
		return "", false
	}
	if n == 0 {
		return "", true
	}
	b := make([]byte, n-1)
	i := len(b)
	for x := d; x != w.top; x = x.parent {
		i -= len(x.name)
		copy(b[i:], x.name)
		if i > 0 {
			i--
			b[i] = '/'
		}
	}
	return string(b), true
}

// attach puts d in parent as name, taking it from where it was.
func (w *Watcher) attach(d, parent *dir, name string) {
	w.detach(d)
	d.parent, d.name = parent, name
	if parent.kids == nil {
		parent.kids = map[string]*dir{}
	}
	parent.kids[name] = d
}

func (w *Watcher) detach(d *dir) {
	if p := d.parent; p != nil && p.kids[d.name] == d {
		delete(p.kids, d.name)
	}
	d.parent = nil
}

// forget drops d, whose watch the kernel removed.
func (w *Watcher) forget(d *dir) {
	if w.wds[d.wd] == d {
		delete(w.wds, d.wd)
	}
	w.detach(d)
}

// unwatch removes the watches of d and every folder below it (moved out of
// the root, or removed).
func (w *Watcher) unwatch(d *dir) {
	var rm func(*dir)
	rm = func(x *dir) {
		for _, k := range x.kids {
			rm(k)
		}
		if w.wds[x.wd] == x {
			delete(w.wds, x.wd)
			unix.InotifyRmWatch(w.inFd, uint32(x.wd))
		}
	}
	rm(d)
	w.detach(d)
}

var procFds = func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
}()

func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// addWatch watches the folder open as fd, called name in parent (nil for
// the root) and at rel. The watch is added through the descriptor, so it is
// on the folder that was opened without following any symlink, whatever
// the path names by now.
func (w *Watcher) addWatch(parent *dir, name, rel string, fd int) (*dir, error) {
	if w.ftree != nil {
		// TreeFanotify: no watch per folder. The root's node stands for
		// the tree; the walks below only list.
		if parent == nil && rel == "" {
			return &dir{gen: w.gen}, nil
		}
		return nil, nil
	}
	var wd int
	var err error
	if procFds {
		wd, err = inotifyAddWatch(w.inFd, procFd(fd), inMask)
	} else {
		wd, err = inotifyAddWatch(w.inFd, filepath.Join(w.real, filepath.FromSlash(rel)), inMask|unix.IN_DONT_FOLLOW)
	}
	if err != nil {
		if errors.Is(err, unix.ENOSPC) {
			return nil, w.watchLimitError()
		}
		return nil, err
	}
	d := w.wds[int32(wd)]
	if d == nil {
		d = &dir{wd: int32(wd)}
		w.wds[d.wd] = d
	}
	if parent != nil {
		w.attach(d, parent, name)
	}
	d.gen = w.gen
	return d, nil
}

// walkKind says what a walk reports of what it finds.
type walkKind uint8

const (
	walkStart  walkKind = iota // New: files open now (lock files, leases refused)
	walkNew                    // a folder that appeared: Created for everything in it
	walkResync                 // after an overflow: nothing new; lock files and leases reconciled
)

// walk lists the folder d, open as fd at rel, and watches every folder below
// it. It closes fd. Anything that vanishes or changes meanwhile is what
// later events report; a folder that meets the watch limit is left out,
// with what is below it (see limitReached).
func (w *Watcher) walk(d *dir, rel string, fd int, kind walkKind) {
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	for {
		ents, err := f.ReadDir(256)
		for _, e := range ents {
			if w.stopped() {
				return
			}
			name := e.Name()
			p := join(rel, name)
			if !validPath(p) {
				continue
			}
			isDir := e.IsDir()
			if doc, ok := officeLock(name, isDir); ok {
				w.lockFound(p, doc)
				continue
			}
			if w.opts.Filter.Excluded(p, isDir) {
				continue
			}
			if kind == walkNew {
				w.push(Event{Op: Created, Path: p, IsDir: isDir})
			}
			if !isDir && kind == walkNew && w.open[p] && w.mode == Fanotify {
				// Its WriteOpen came before its folder was watched: a
				// Closed from before the watch was lost. If nobody has
				// it open for writing now, that open is over.
				if lfd, err := openBeneath(fd, name, leaseFlags); err == nil {
					if busy, known := writtenNow(lfd); !busy || !known {
						delete(w.open, p)
						delete(w.dirty, p)
						w.push(Event{Op: Closed, Path: p})
						w.noteClose(p)
					}
				}
			}
			if !isDir {
				if w.leases != nil && e.Type().IsRegular() && (kind != walkResync || !w.leases.tracked(p)) {
					lfd, err := openBeneath(fd, name, leaseFlags)
					w.armOpened(lfd, err, p, false)
				}
				continue
			}
			cfd, err := openBeneath(fd, name, unix.O_RDONLY|unix.O_DIRECTORY)
			if err != nil {
				continue
			}
			child, err := w.addWatch(d, name, p, cfd)
			if err != nil {
				unix.Close(cfd)
				if errors.Is(err, ErrWatchLimit) {
					w.limitReached(p, err)
				}
				continue
			}
			w.walk(child, p, cfd, kind)
		}
		if err != nil {
			return // the end, or a folder that cannot be listed any more
		}
	}
}

// watchRoot watches the root and everything below it (New).
func (w *Watcher) watchRoot() error {
	fd, err := w.openRoot()
	if err != nil {
		return fmt.Errorf("watch %s: %w", w.root, err)
	}
	w.top, err = w.addWatch(nil, "", "", fd)
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, ErrWatchLimit) {
			return err // not even the root: nothing to watch at all
		}
		return fmt.Errorf("watch %s: inotify_add_watch: %w", w.root, err)
	}
	w.walk(w.top, "", fd, walkStart)
	return nil
}

// resync brings the watches back in line with the tree after lost events:
// every folder is watched again (the kernel hands back the same watch for a
// folder already watched, so a moved folder's watch is reattached where it
// is now), watches of folders no longer found are removed, lock files are
// reconciled and leases checked.
func (w *Watcher) resync() error {
	fd, err := w.openRoot()
	if err != nil {
		return fmt.Errorf("watch %s: %w", w.root, err)
	}
	w.gen++
	w.top.gen = w.gen
	w.lockSeen = map[string]bool{}
	defer func() { w.lockSeen = nil }()
	w.walk(w.top, "", fd, walkResync)
	if w.stopped() {
		return nil
	}
	for wd, d := range w.wds {
		if d.gen != w.gen {
			unix.InotifyRmWatch(w.inFd, uint32(wd))
			w.forget(d)
		}
	}
	for lock := range w.locks {
		if !w.lockSeen[lock] {
			w.lockGone(lock)
		}
	}
	if w.leases != nil {
		for _, rel := range w.leases.validate(w.openRel) {
			delete(w.rearm, rel)
		}
	}
	return nil
}

var noOpenat2 atomic.Bool

// openBeneath opens rel, a relative path, below the folder open as dirfd,
// following no symlink on the way (the last element included) and never
// leaving that folder.
func openBeneath(dirfd int, rel string, flags int) (int, error) {
	flags |= unix.O_CLOEXEC | unix.O_NOFOLLOW
	if !noOpenat2.Load() {
		how := &unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
		for range 3 {
			fd, err := unix.Openat2(dirfd, rel, how)
			switch err {
			case unix.EAGAIN, unix.EINTR:
				continue // a rename raced the lookup
			case unix.ENOSYS:
				noOpenat2.Store(true)
			default:
				return fd, err
			}
			break
		}
		if !noOpenat2.Load() {
			return -1, unix.EAGAIN
		}
	}
	// Before Linux 5.6: one element at a time, none followed if a symlink.
	cur, owned := dirfd, false
	elems := strings.Split(rel, "/")
	for _, e := range elems[:len(elems)-1] {
		nfd, err := unix.Openat(cur, e, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if owned {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur, owned = nfd, true
	}
	fd, err := unix.Openat(cur, elems[len(elems)-1], flags, 0)
	if owned {
		unix.Close(cur)
	}
	return fd, err
}

// watchLimitError is the error of an inotify_add_watch refused with ENOSPC:
// the user's watches are all taken. In a user namespace of its own the
// process may meet that namespace's lower limit first; the error says so.
func (w *Watcher) watchLimitError() error {
	limit := readSysctl("fs.inotify.max_user_watches")
	e := &LimitError{Root: w.root, What: "inotify watch limit", Sysctl: "fs.inotify.max_user_watches",
		Value: limit, Suggest: max(2*limit, 1<<20), Err: unix.ENOSPC, Watched: len(w.wds)}
	if ns := readSysctl("user.max_inotify_watches"); ns > 0 && ns < limit {
		e.Detail = fmt.Sprintf("this process's user namespace allows only %d watches: raise user.max_inotify_watches in it too", ns)
	}
	return e
}

func (w *Watcher) instanceLimitError(err error) error {
	limit := readSysctl("fs.inotify.max_user_instances")
	return &LimitError{Root: w.root, What: "inotify instance limit", Sysctl: "fs.inotify.max_user_instances",
		Value: limit, Suggest: max(2*limit, 1024), Err: err,
		Detail: "or the open-file limit is reached: then raise that (ulimit -n, LimitNOFILE=)"}
}
