//go:build !linux || watch_fsnotify

package watch

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// onLockFile acts on an event of an office lock file.
func (w *Watcher) onLockFile(rel, doc string, ev fsnotify.Event) {
	switch {
	case ev.Has(fsnotify.Create):
		if w.locks[rel] == nil {
			// Announced on its first write (its content names the user) or
			// after lockWait.
			w.locks[rel] = &lockState{doc: doc, deadline: time.Now().Add(lockWait)}
		}
	case ev.Has(fsnotify.Write):
		if l := w.locks[rel]; l != nil && !l.announced {
			w.announce(rel, l)
		}
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		l := w.locks[rel]
		delete(w.locks, rel)
		if l == nil {
			return
		}
		if !l.announced {
			w.announce(rel, l)
		}
		if l.docPath != "" {
			w.send(Event{Op: Closed, Path: l.docPath, LockFile: rel})
		}
	}
}

func (w *Watcher) announce(rel string, l *lockState) {
	if ev, ok := w.lockEvent(rel, l); ok {
		w.send(ev)
	}
}

// lockEvent marks l announced and returns the WriteOpen of its document, if
// it has one.
func (w *Watcher) lockEvent(rel string, l *lockState) (Event, bool) {
	l.announced = true
	dirRel := dirOf(rel)
	name := rel[strings.LastIndexByte(rel, '/')+1:]
	dirAbs := w.abs(dirRel)
	exists := func(n string) bool {
		fi, err := os.Lstat(filepath.Join(dirAbs, n))
		return err == nil && fi.Mode().IsRegular()
	}
	list := func() []string {
		f, err := os.Open(dirAbs)
		if err != nil {
			return nil
		}
		defer f.Close()
		names, _ := f.Readdirnames(-1)
		return names
	}
	doc := lockDoc(name, l.doc, exists, list)
	if doc == "" {
		return Event{}, false
	}
	docPath := join(dirRel, doc)
	if !validPath(docPath) || w.opts.Filter.Excluded(docPath, false) {
		return Event{}, false
	}
	l.docPath = docPath
	var user string
	if f, err := os.Open(w.abs(rel)); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, maxLockFile))
		f.Close()
		user = lockUser(name, b)
	}
	return Event{Op: WriteOpen, Path: docPath, User: user, LockFile: rel}, true
}
