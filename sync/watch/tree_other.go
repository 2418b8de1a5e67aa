//go:build !linux || watch_fsnotify

package watch

import (
	"io/fs"
	"path/filepath"
)

// addTree watches the folder rel and every folder below it, calling emit
// with what it finds: Created events (unless quiet) and the WriteOpen of
// the office lock files. Only a watch limit is an error.
func (w *Watcher) addTree(rel string, emit func(Event), quiet bool) error {
	return filepath.WalkDir(w.abs(rel), func(p string, d fs.DirEntry, err error) error {
		if w.stopped() {
			return filepath.SkipAll
		}
		r := ""
		if p != w.root {
			var ok bool
			if r, ok = w.rel(p); !ok {
				if d != nil && d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if err != nil {
			return nil // vanished or unreadable: events or the rescan say
		}
		isDir := d.IsDir()
		if doc, isLock := officeLock(d.Name(), isDir); isLock && r != "" {
			if w.locks[r] == nil {
				l := &lockState{doc: doc}
				w.locks[r] = l
				if ev, ok := w.lockEvent(r, l); ok {
					emit(ev)
				}
			}
			return nil
		}
		if r != "" && w.opts.Filter.Excluded(r, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		if r != "" && r != rel && !quiet {
			emit(Event{Op: Created, Path: r, IsDir: isDir})
		}
		if !isDir {
			return nil
		}
		if err := w.fsw.Add(p); err != nil {
			if lerr := limitError(w.root, err); lerr != nil {
				if r == "" {
					return lerr // not even the root
				}
				w.limitReached(r, lerr)
			}
			return filepath.SkipDir
		}
		w.dirs[r] = true
		return nil
	})
}

// unwatch removes the watches at and below rel.
func (w *Watcher) unwatch(rel string) {
	if w.dirs[rel] {
		if len(w.movedDirs) > 1024 {
			clear(w.movedDirs) // echoes come at once; these are stale
		}
		w.movedDirs[rel] = true
	}
	for d := range w.dirs {
		if d != "" && under(d, rel) {
			delete(w.dirs, d)
			w.fsw.Remove(w.abs(d))
		}
	}
}
