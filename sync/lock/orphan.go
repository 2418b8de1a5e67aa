package lock

import (
	"io/fs"
	"path/filepath"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

// An unlock can come before the watcher has told the agent that a user
// renamed the folder holding the locked copy: the copy is not at its
// path then, and nothing is restored. Its record is kept a while as an
// orphan, and the rename's Moved, once it comes, restores the copy at its
// new path (make chaos, seed 5533: a copy left read-only and immutable
// for good in a folder renamed as its writer elsewhere closed the file).

// orphanFor is how long an orphan waits for the rename that moved it.
const orphanFor = time.Minute

// orphan is a released lock whose copy was not at its path.
type orphan struct {
	rec store.LockRecord
	at  time.Time
}

// keepOrphan keeps rec, released while its copy was not at its path.
func (l *Locker) keepOrphan(rec store.LockRecord) {
	now := l.opts.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, o := range l.orphans {
		if now.Sub(o.at) > orphanFor {
			delete(l.orphans, p)
		}
	}
	l.orphans[rec.Path] = orphan{rec: rec, at: now}
}

// orphanPaths returns the paths of the orphans now.
func (l *Locker) orphanPaths() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.orphans))
	for p := range l.orphans {
		out[p] = true
	}
	return out
}

// orphansSince returns the orphans made since before was taken.
func (l *Locker) orphansSince(before map[string]bool) map[string]store.LockRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]store.LockRecord{}
	for p, o := range l.orphans {
		if !before[p] {
			out[p] = o.rec
		}
	}
	return out
}

// adoptOrphans restores the copies of the orphans that the rename of from
// to to moved, at their new paths.
func (l *Locker) adoptOrphans(from, to string) {
	now := l.opts.Now()
	l.mu.Lock()
	found := map[string]store.LockRecord{}
	for p, o := range l.orphans {
		if now.Sub(o.at) > orphanFor {
			delete(l.orphans, p)
			continue
		}
		if np, ok := wire.Moved(p, from, to); ok {
			found[np] = o.rec
			delete(l.orphans, p)
		}
	}
	l.mu.Unlock()
	for np, rec := range found {
		if _, err := l.restoreAt(np, rec); err != nil {
			l.warn(np, err)
		}
	}
}

// findOrphans looks through the root for the copies of the orphans that
// Reconcile just made, and restores each where it is now: a user renamed
// the folder holding a locked copy while the agent was not watching (the
// hub down, so nothing attached), and the copy, left read-only and
// immutable, would have its locked mode taken for the user's by the next
// scan and spread to every host (make chaos, seed 9052). It walks the tree
// once, only when a lock's copy was not at its journaled path.
func (l *Locker) findOrphans(made map[string]store.LockRecord) {
	byInode := map[[2]uint64]store.LockRecord{}
	for _, rec := range made {
		byInode[[2]uint64{rec.Dev, rec.Ino}] = rec
	}
	root := l.t.Dir()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || len(byInode) == 0 {
			return fs.SkipAll
		}
		if d.IsDir() && d.Name() == ".peerlink" && filepath.Dir(p) == root {
			return fs.SkipDir // the agent's own area: no user's copy
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		dev, ino, ok := inodeOf(info)
		rec, found := byInode[[2]uint64{dev, ino}]
		if !ok || !found {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if restored, err := l.restoreAt(rel, rec); err != nil {
			l.warn(rel, err)
		} else if restored {
			delete(byInode, [2]uint64{dev, ino})
			l.mu.Lock()
			delete(l.orphans, rec.Path)
			l.mu.Unlock()
		}
		return nil
	})
}
