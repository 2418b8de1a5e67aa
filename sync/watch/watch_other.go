//go:build !linux || watch_fsnotify

package watch

// The portable detector, on fsnotify: what every platform can tell, which
// is tree changes and modifications, never opens or closes. Linux builds
// use the raw inotify detector instead (watch_linux.go) unless built with
// -tags watch_fsnotify, which is how this file is tested on Linux.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports what happens below one root. Create it with New, read
// Events until the channel is closed, then Err tells why it stopped.
type Watcher struct {
	root string
	opts Options
	fsw  *fsnotify.Watcher

	events chan Event
	life

	// Owned by the loop goroutine (by New before it starts).
	dirs      map[string]bool      // watched folders by path ("" is the root)
	written   map[string]time.Time // files with a WriteOpen reported: their last modification
	locks     map[string]*lockState
	rename    *pendingRename
	movedDirs map[string]bool   // folders renamed or moved away: their own echo of it is ignored
	dirMoves  map[string]string // recent folder renames, old path to new
	lastQuiet time.Time
	initial   []Event // found by New: sent first
	limited   bool    // a folder could not be added (a watch limit)
	limitEv   *Event  // its Limited, to send once what is being handled is
}

// pendingRename is the old name of a rename, waiting for the new one.
type pendingRename struct {
	rel      string
	isDir    bool
	deadline time.Time
}

// New starts watching root, an absolute path to a folder. Modes other than
// Auto and InotifyOnly need Linux; this build always works as InotifyOnly.
func New(ctx context.Context, root string, opts Options) (*Watcher, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("watch: root %q is not an absolute path", root)
	}
	switch opts.Mode {
	case Auto, InotifyOnly:
	case Fanotify, Lease:
		return nil, fmt.Errorf("watch %s: %v mode needs the Linux build (this one is portable, on %s)", root, opts.Mode, runtime.GOOS)
	default:
		return nil, fmt.Errorf("watch %s: unknown mode %d", root, opts.Mode)
	}
	root = filepath.Clean(root)
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watch %s: not a folder", root)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		if lerr := limitError(root, err); lerr != nil {
			return nil, lerr
		}
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	w := &Watcher{
		root: root, opts: opts, fsw: fsw,
		events:    make(chan Event, 256),
		life:      newLife(),
		dirs:      map[string]bool{},
		written:   map[string]time.Time{},
		locks:     map[string]*lockState{},
		movedDirs: map[string]bool{},
		dirMoves:  map[string]string{},
	}
	if err := w.addTree("", func(ev Event) { w.initial = append(w.initial, ev) }, true); err != nil {
		fsw.Close()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			w.stop(nil)
		case <-w.done:
		}
	}()
	go w.loop()
	return w, nil
}

// Events returns the channel events arrive on. It is closed when the
// watcher stops. It must be drained.
func (w *Watcher) Events() <-chan Event { return w.events }

// Mode returns the detection in use: InotifyOnly (first modification) here.
func (w *Watcher) Mode() Mode { return InotifyOnly }

// Root returns the root as given to New, cleaned.
func (w *Watcher) Root() string { return w.root }

// send passes ev on, blocking on the reader; false once stopped.
func (w *Watcher) send(ev Event) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.done:
		return false
	}
}

func (w *Watcher) loop() {
	defer func() {
		w.stop(nil)
		w.fsw.Close()
		close(w.events)
		close(w.finished)
	}()
	for _, ev := range w.initial {
		if !w.send(ev) {
			return
		}
	}
	w.initial = nil
	w.sendLimited()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var tc <-chan time.Time
		if at, ok := w.nextDeadline(); ok {
			timer.Reset(time.Until(at))
			tc = timer.C
		}
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.onError(err)
		case now := <-tc:
			w.onTimer(now)
		}
		w.sendLimited()
		if w.stopped() {
			return
		}
	}
}

// limitReached notes that the folder rel could not be added for err, a
// watch limit; its Limited is sent once (sendLimited).
func (w *Watcher) limitReached(rel string, err error) {
	if !w.limited {
		w.limited = true
		w.limitEv = &Event{Op: Limited, Path: rel, IsDir: true, Err: err}
	}
}

func (w *Watcher) sendLimited() {
	if w.limitEv != nil {
		w.send(*w.limitEv)
		w.limitEv = nil
	}
}

func (w *Watcher) nextDeadline() (time.Time, bool) {
	var at time.Time
	set := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if w.rename != nil {
		set(w.rename.deadline)
	}
	for _, l := range w.locks {
		if !l.announced {
			set(l.deadline)
		}
	}
	if len(w.written) > 0 {
		// Checked every quarter period rather than per file: a burst of
		// thousands of written files costs one pass per tick.
		set(w.lastQuiet.Add(quietPeriod / 4))
	}
	return at, !at.IsZero()
}

func (w *Watcher) onTimer(now time.Time) {
	if w.rename != nil && !now.Before(w.rename.deadline) {
		w.flushRename()
	}
	for rel, l := range w.locks {
		if !l.announced && !now.Before(l.deadline) {
			w.announce(rel, l)
		}
	}
	if now.Sub(w.lastQuiet) >= quietPeriod/4 {
		w.lastQuiet = now
		for rel, t := range w.written {
			if now.Sub(t) >= quietPeriod {
				delete(w.written, rel)
				w.send(Event{Op: Closed, Path: rel})
			}
		}
	}
}

func (w *Watcher) onError(err error) {
	if lerr := limitError(w.root, err); lerr != nil {
		w.limitReached("", lerr)
		return
	}
	// Overflow, or a folder that could not be read: either way something
	// may have been missed. Watch what is there again; the agent rescans.
	w.flushRename()
	w.send(Event{Op: Overflow})
	if err := w.addTree("", func(Event) {}, true); err != nil {
		w.stop(err)
	}
}

// rel returns the watch-set path of an fsnotify name, or false.
func (w *Watcher) rel(name string) (string, bool) {
	r, err := filepath.Rel(w.root, name)
	if err != nil || r == "." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || r == ".." {
		return "", false
	}
	r = filepath.ToSlash(r)
	return r, validPath(r)
}

func (w *Watcher) abs(rel string) string { return filepath.Join(w.root, filepath.FromSlash(rel)) }

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
		for from, to := range w.dirMoves {
			if rel != from && under(rel, from) {
				if _, err := os.Lstat(ev.Name); err != nil {
					rel = moved(rel, from, to)
					ev.Name = w.abs(rel)
				}
				break
			}
		}
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
			w.moveState(r.rel, rel)
			if isDir {
				// Watched again before the rename is reported: a reader
				// who acts on it finds the new paths watched.
				w.unwatch(r.rel)
				if len(w.dirMoves) >= 64 {
					clear(w.dirMoves)
				}
				w.dirMoves[r.rel] = rel
				if err := w.addTree(rel, func(Event) {}, true); err != nil {
					w.stop(err)
					return
				}
			}
			w.send(Event{Op: Renamed, OldPath: r.rel, Path: rel, IsDir: isDir})
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
	case ev.Has(fsnotify.Chmod):
		isDir := w.dirs[rel]
		if !w.opts.Filter.Excluded(rel, isDir) {
			w.send(Event{Op: Changed, Path: rel, IsDir: isDir})
		}
	}
}

// flushRename settles a rename's old name that no new name followed: a
// move out of the root.
func (w *Watcher) flushRename() {
	r := w.rename
	if r == nil {
		return
	}
	w.rename = nil
	w.send(Event{Op: Removed, Path: r.rel, IsDir: r.isDir})
	w.gone(r.rel)
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

// moveState follows a rename from to to.
func (w *Watcher) moveState(from, to string) {
	rekey(w.written, from, to)
	rekeyLocks(w.locks, from, to)
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

// exactRenames: the backend pairs a rename's two names itself (inotify's
// cookies, Windows' consecutive records), so a Create that does not name
// an old path is not the end of a rename. kqueue does not: there the next
// Create within moveWait is taken for the new name.
var exactRenames = runtime.GOOS == "linux" || runtime.GOOS == "windows"

// renamedFrom returns the old path fsnotify paired with a Create, which it
// keeps unexported but prints: `CREATE "new" ← "old"`.
func renamedFrom(ev fsnotify.Event) (string, bool) {
	s := ev.String()
	i := strings.LastIndex(s, " ← ")
	if i < 0 {
		return "", false
	}
	old, err := strconv.Unquote(s[i+len(" ← "):])
	return old, err == nil && old != ""
}

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

// limitError returns the *LimitError for err, if err is a limit.
func limitError(root string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		limit := readSysctl("fs.inotify.max_user_watches")
		return &LimitError{Root: root, What: "inotify watch limit", Sysctl: "fs.inotify.max_user_watches",
			Value: limit, Suggest: max(2*limit, 1<<20), Err: err}
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		return &LimitError{Root: root, What: "open-file limit", Err: err,
			Detail: "this platform's watcher holds a descriptor per watched file and folder: raise the open-file limit (ulimit -n; on macOS also launchctl limit maxfiles)"}
	}
	return nil
}
