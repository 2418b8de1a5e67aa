//go:build linux && !watch_fsnotify

package watch

import "time"

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

func (w *Watcher) movedFrom(d *dir, name, rel string, isDir bool, cookie uint32) {
	it := &item{}
	w.q = append(w.q, it)
	m := &move{cookie: cookie, from: rel, isDir: isDir, item: it, deadline: time.Now().Add(moveWait)}
	if isDir && d != nil {
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
	rekey(w.closing, m.from, rel)
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
	if w.ftree != nil {
		return // no watches to move: paths come from the folders' handles
	}
	// A folder we had no watch on (its watch failed): watch it now; its
	// content is not new.
	w.appeared(d, name, rel, true, walkResync)
}
