//go:build linux && !watch_fsnotify

package watch

import (
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// onLockFile acts on an inotify event of an office lock file at rel,
// standing for doc (what filter.IsOfficeLock made of its name).
func (w *Watcher) onLockFile(rel, doc string, mask uint32) {
	switch {
	case mask&unix.IN_CREATE != 0:
		// Announced when its writer closes it (its content names the user)
		// or after lockWait.
		w.lockAppeared(rel, doc, false)
	case mask&unix.IN_MOVED_TO != 0:
		w.lockAppeared(rel, doc, true)
	case mask&unix.IN_CLOSE_WRITE != 0:
		if l := w.locks[rel]; l != nil && !l.announced {
			w.announce(rel, l)
		}
	case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
		w.lockGone(rel)
	}
}

// lockFound is a lock file found by a walk.
func (w *Watcher) lockFound(rel, doc string) {
	if w.lockSeen != nil {
		w.lockSeen[rel] = true
	}
	w.lockAppeared(rel, doc, true)
}

// lockAppeared records a lock file; complete says its content is written.
func (w *Watcher) lockAppeared(rel, doc string, complete bool) {
	if w.locks[rel] != nil {
		return // the same lock, replaced or found again
	}
	l := &lockState{doc: doc, deadline: time.Now().Add(lockWait)}
	w.locks[rel] = l
	if complete {
		w.announce(rel, l)
	}
}

// announce reports the WriteOpen of the document lock file rel stands for.
func (w *Watcher) announce(rel string, l *lockState) {
	l.announced = true
	dirRel := dirOf(rel)
	name := rel[strings.LastIndexByte(rel, '/')+1:]
	dirfd, err := w.openRel(dirRel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return
	}
	defer unix.Close(dirfd)
	exists := func(n string) bool {
		var st unix.Stat_t
		return unix.Fstatat(dirfd, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
	}
	list := func() []string {
		fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil
		}
		f := os.NewFile(uintptr(fd), dirRel)
		defer f.Close()
		names, _ := f.Readdirnames(-1)
		return names
	}
	doc := lockDoc(name, l.doc, exists, list)
	if doc == "" {
		return
	}
	docPath := join(dirRel, doc)
	if !validPath(docPath) || w.opts.Filter.Excluded(docPath, false) {
		return
	}
	l.docPath = docPath
	w.push(Event{Op: WriteOpen, Path: docPath, User: readLockUser(dirfd, name), LockFile: rel})
}

// readLockUser returns the user named in the lock file name in the folder
// open as dirfd, if it can be read.
func readLockUser(dirfd int, name string) string {
	fd, err := openBeneath(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return ""
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, maxLockFile))
	return lockUser(name, b)
}

// lockGone: the lock file rel was removed (or moved away): its document is
// Closed. One that was never announced (it lived shorter than lockWait) is
// announced first.
func (w *Watcher) lockGone(rel string) {
	l := w.locks[rel]
	delete(w.locks, rel)
	if l == nil {
		doc, _ := officeLock(rel[strings.LastIndexByte(rel, '/')+1:], false)
		l = &lockState{doc: doc}
	}
	if !l.announced {
		w.announce(rel, l)
	}
	if l.docPath != "" {
		w.push(Event{Op: Closed, Path: l.docPath, LockFile: rel})
	}
}
