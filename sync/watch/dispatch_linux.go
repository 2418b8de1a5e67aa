//go:build linux && !watch_fsnotify

package watch

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

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
			w.rootEvent(ev.mask)
		}
		return
	}
	base, ok := w.dirPath(d)
	if !ok {
		return // a folder moved or removed, not yet settled
	}
	w.pathEvent(d, join(base, ev.name), ev)
}

// pathEvent acts on the event ev of rel, the entry ev.name of the folder d
// (nil with TreeFanotify, where folders have no watch).
func (w *Watcher) pathEvent(d *dir, rel string, ev rawEvent) {
	if !validPath(rel) {
		if ev.mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
			w.push(skippedName(rel))
		}
		return
	}
	isDir := ev.mask&unix.IN_ISDIR != 0
	if doc, isLock := officeLock(ev.name, isDir); isLock {
		w.onLockFile(rel, doc, ev.mask)
		return
	}
	w.entryEvent(d, ev, rel, isDir)
}

// rootEvent acts on the root's own event: its end stops the watcher.
func (w *Watcher) rootEvent(mask uint32) {
	switch {
	case mask&unix.IN_DELETE_SELF != 0:
		w.stop(fmt.Errorf("watch %s: the root was removed", w.root))
	case mask&unix.IN_MOVE_SELF != 0:
		w.stop(fmt.Errorf("watch %s: the root was moved away", w.root))
	case mask&unix.IN_UNMOUNT != 0:
		w.stop(fmt.Errorf("watch %s: the root's file system was unmounted", w.root))
	}
}

// entryEvent acts on an event of rel, the entry ev.name of the folder d
// (not an office lock file; d is nil with TreeFanotify).
func (w *Watcher) entryEvent(d *dir, ev rawEvent, rel string, isDir bool) {
	excluded := w.opts.Filter.Excluded(rel, isDir)
	switch {
	case ev.mask&unix.IN_MOVED_TO != 0:
		w.movedTo(d, ev.name, rel, isDir, ev.cookie, excluded)
	case excluded:
	case ev.mask&unix.IN_CREATE != 0:
		w.queue(Event{Op: Created, Path: rel, IsDir: isDir})
		if !isDir || w.ftree == nil {
			// A folder just made is empty: with TreeFanotify, what is
			// made in it next has events of its own.
			w.appeared(d, ev.name, rel, isDir, walkNew)
		}
	case ev.mask&unix.IN_MOVED_FROM != 0:
		w.movedFrom(d, ev.name, rel, isDir, ev.cookie)
	case ev.mask&unix.IN_DELETE != 0:
		w.push(Event{Op: Removed, Path: rel, IsDir: isDir})
		if d != nil && isDir {
			if k := d.kids[ev.name]; k != nil {
				w.unwatch(k)
			}
		}
		w.gone(rel)
	case ev.mask&unix.IN_CLOSE_WRITE != 0:
		w.closeWrite(rel)
	case ev.mask&unix.IN_MODIFY != 0:
		w.modify(rel)
	case ev.mask&unix.IN_ATTRIB != 0:
		w.push(Event{Op: Changed, Path: rel, IsDir: isDir})
	}
}

// modify acts on the IN_MODIFY of the file rel.
func (w *Watcher) modify(rel string) {
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

// gone forgets what the watcher holds about rel and everything below it:
// it was removed, moved out, or replaced.
func (w *Watcher) gone(rel string) {
	dropUnder(w.dirty, rel)
	dropUnder(w.open, rel)
	dropUnder(w.rearm, rel)
	dropUnder(w.unseen, rel)
	dropUnder(w.closing, rel)
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
