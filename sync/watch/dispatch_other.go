//go:build !linux || watch_fsnotify

package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

func (w *Watcher) handle(ev fsnotify.Event) {
	if filepath.Clean(ev.Name) == w.root {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			w.stop(fmt.Errorf("watch %s: the root was removed or moved away", w.root))
		}
		return
	}
	rel, ok := w.rel(ev.Name)
	if !ok {
		return
	}
	if len(w.dirMoves) > 0 && ev.Has(fsnotify.Create) {
		// A folder's old watch may report what happened in it after its
		// move and before it was watched anew, under its old path.
		rel, ev.Name = w.followDirMove(rel, ev.Name)
	}
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	if doc, isLock := officeLock(base, w.dirs[rel]); isLock {
		w.onLockFile(rel, doc, ev)
		return
	}
	if ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Create) {
		if (w.rename != nil && w.rename.rel == rel) || w.movedDirs[rel] {
			// A watched folder's own report of its move (IN_MOVE_SELF
			// and the like), after its parent's.
			delete(w.movedDirs, rel)
			return
		}
	}
	// A rename's old name waits for the next event: its new name.
	if w.rename != nil && !(ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Rename)) {
		w.flushRename()
	}
	switch {
	case ev.Has(fsnotify.Create):
		w.onCreate(ev, rel)
	case ev.Has(fsnotify.Remove):
		isDir := w.dirs[rel]
		if w.opts.Filter.Excluded(rel, isDir) {
			return
		}
		w.send(Event{Op: Removed, Path: rel, IsDir: isDir})
		w.gone(rel)
	case ev.Has(fsnotify.Rename):
		isDir := w.dirs[rel]
		if w.opts.Filter.Excluded(rel, isDir) {
			return
		}
		w.rename = &pendingRename{rel: rel, isDir: isDir, deadline: time.Now().Add(moveWait)}
	case ev.Has(fsnotify.Write):
		w.onWrite(rel)
	case ev.Has(fsnotify.Chmod):
		isDir := w.dirs[rel]
		if !w.opts.Filter.Excluded(rel, isDir) {
			w.send(Event{Op: Changed, Path: rel, IsDir: isDir})
		}
	}
}

// onCreate acts on a Create of rel: the new name of the pending rename, or
// something new.
func (w *Watcher) onCreate(ev fsnotify.Event, rel string) {
	from, paired := renamedFrom(ev)
	if w.rename != nil && (paired && from != w.abs(w.rename.rel) || !paired && exactRenames) {
		w.flushRename() // not the new name of the pending old one
	}
	fi, err := os.Lstat(ev.Name)
	if err != nil {
		w.flushRename()
		return // gone already
	}
	isDir := fi.IsDir()
	if w.opts.Filter.Excluded(rel, isDir) {
		w.flushRename()
		return
	}
	if r := w.rename; r != nil {
		w.rename = nil
		w.finishRename(r, rel, isDir)
		return
	}
	if !isDir {
		w.send(Event{Op: Created, Path: rel})
		return
	}
	// Watched before it is reported, so that a reader who acts on the
	// Created finds it watched; then what was already inside.
	found := []Event{{Op: Created, Path: rel, IsDir: true}}
	if err := w.addTree(rel, func(ev Event) { found = append(found, ev) }, false); err != nil {
		w.stop(err)
		return
	}
	for _, ev := range found {
		w.send(ev)
	}
}

// onWrite acts on a Write of rel: its first since it was last quiet is
// its WriteOpen.
func (w *Watcher) onWrite(rel string) {
	if w.dirs[rel] || w.opts.Filter.Excluded(rel, false) {
		return // a folder's content changed (kqueue, Windows): its entries say how
	}
	if _, ok := w.written[rel]; !ok {
		if len(w.written) == 0 {
			w.lastQuiet = time.Now()
		}
		w.send(Event{Op: WriteOpen, Path: rel})
		w.send(Event{Op: Changed, Path: rel})
	}
	w.written[rel] = time.Now()
}

// gone forgets rel and what is below it.
func (w *Watcher) gone(rel string) {
	if _, ok := w.written[rel]; ok {
		// Written and then removed or moved away: the session is over.
		delete(w.written, rel)
		w.send(Event{Op: Closed, Path: rel})
	}
	dropUnder(w.written, rel)
	w.unwatch(rel)
	for lock, l := range w.locks {
		if lock != rel && under(lock, rel) {
			delete(w.locks, lock)
			if l.announced && l.docPath != "" {
				w.send(Event{Op: Closed, Path: l.docPath, LockFile: lock})
			}
		}
	}
}
