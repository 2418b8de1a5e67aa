//go:build linux && !watch_fsnotify

package watch

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// onTree acts on events of the tree group (TreeFanotify): each becomes the
// inotify event(s) it stands for, at its path, so that both sources feed
// one stream.
func (w *Watcher) onTree(evs []treeEvent) {
	for _, ev := range evs {
		switch {
		case ev.err != nil:
			w.stop(ev.err)
		case ev.overflow:
			w.overflow()
		case ev.mask&unix.FAN_RENAME != 0:
			w.treeRename(ev)
		case ev.to.rel != "":
			w.treeChange(ev)
		}
		if w.stopped() {
			return
		}
	}
}

// treeRename acts on a rename: its two halves at once, so the move never
// waits for a second half (fanotify reports both names in one event). A
// side outside the root is a move in or out.
func (w *Watcher) treeRename(ev treeEvent) {
	w.cookie++
	isDir := uint32(ev.mask & unix.FAN_ONDIR) // IN_ISDIR has the same value
	if ev.from.in && ev.from.rel != "" {
		w.pathEvent(nil, ev.from.rel, rawEvent{mask: unix.IN_MOVED_FROM | isDir, cookie: w.cookie, name: baseOf(ev.from.rel)})
	}
	if ev.to.in && ev.to.rel != "" {
		w.pathEvent(nil, ev.to.rel, rawEvent{mask: unix.IN_MOVED_TO | isDir, cookie: w.cookie, name: baseOf(ev.to.rel)})
	}
	if m := w.moves[w.cookie]; m != nil {
		w.moveOut(m) // moved out of the root, or to a name no path can be
	}
}

// treeOrder is the order in which the changes of one event are reported:
// the kernel merges events of one entry by one process that are still
// queued (an echo > f is one CREATE|MODIFY|CLOSE_WRITE), which loses their
// order; this is the order they happen in for anything that creates,
// writes and closes.
var treeOrder = [...]uint32{unix.IN_CREATE, unix.IN_MODIFY, unix.IN_ATTRIB, unix.IN_CLOSE_WRITE, unix.IN_DELETE}

// treeChange acts on any event but a rename.
func (w *Watcher) treeChange(ev treeEvent) {
	mask := uint32(ev.mask)
	isDir := mask & unix.IN_ISDIR
	rel := ev.to.rel
	ev1 := rawEvent{name: baseOf(rel)}
	if mask&(unix.IN_CREATE|unix.IN_DELETE) == unix.IN_CREATE|unix.IN_DELETE {
		// Created and removed, in an order the kernel did not keep: the
		// file system tells which came last.
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(w.real, filepath.FromSlash(rel)), &st) == nil {
			ev1.mask = unix.IN_DELETE | isDir
			w.pathEvent(nil, rel, ev1)
			mask &^= unix.IN_DELETE
		}
	}
	for _, bit := range treeOrder {
		if mask&bit != 0 {
			ev1.mask = bit | isDir
			w.pathEvent(nil, rel, ev1)
		}
	}
}

// baseOf returns the last element of a relative path.
func baseOf(rel string) string { return rel[strings.LastIndexByte(rel, '/')+1:] }
