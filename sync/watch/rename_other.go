//go:build !linux || watch_fsnotify

package watch

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// pendingRename is the old name of a rename, waiting for the new one.
type pendingRename struct {
	rel      string
	isDir    bool
	deadline time.Time
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

// moveState follows a rename from to to.
func (w *Watcher) moveState(from, to string) {
	rekey(w.written, from, to)
	rekeyLocks(w.locks, from, to)
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

// finishRename reports r, the pending rename, as ending at rel.
func (w *Watcher) finishRename(r *pendingRename, rel string, isDir bool) {
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
}

// followDirMove returns rel and name (its absolute path) moved along with
// the folder renamed lately that rel is below, if nothing is found at name
// any more; otherwise rel and name unchanged.
func (w *Watcher) followDirMove(rel, name string) (string, string) {
	for from, to := range w.dirMoves {
		if rel != from && under(rel, from) {
			if _, err := os.Lstat(name); err != nil {
				rel = moved(rel, from, to)
				name = w.abs(rel)
			}
			break
		}
	}
	return rel, name
}
