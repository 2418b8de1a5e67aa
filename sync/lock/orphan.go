package lock

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

// An unlock can come before the watcher has told the agent that a user
// renamed the folder holding the locked copy: the copy is not at its
// path then, and nothing is restored. Its record is kept as an orphan,
// and the rename's Moved, once it comes, restores the copy at its new
// path (make chaos, seed 5533: a copy left read-only and immutable for
// good in a folder renamed as its writer elsewhere closed the file).
//
// The orphan is journaled (store.Agent.PutOrphans) before the lock's
// record is deleted, so an agent that stops or crashes before the Moved
// comes still knows of the copy: the next Reconcile (at start-up) looks
// for it by its inode and restores it wherever it is. In memory an orphan
// waits orphanFor for its Moved; in the journal it stays until a
// Reconcile has looked for it, which restores it if found and forgets it
// if not (and it is older than orphanFor: a copy moved out of the root or
// deleted).

// orphanFor is how long an orphan waits for the rename that moved it.
const orphanFor = time.Minute

// keepOrphan journals rec, released while its copy was not at its path,
// and keeps it for the rename's Moved.
func (l *Locker) keepOrphan(rec store.LockRecord) error {
	now := l.opts.Now()
	rec.Orphaned = now
	if err := l.j.PutOrphans(rec); err != nil {
		return fmt.Errorf("unlock %s: journal the lock's orphan: %w", rec.Path, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, o := range l.orphans {
		if now.Sub(o.Orphaned) > orphanFor {
			delete(l.orphans, p) // the journal keeps it for the next Reconcile
		}
	}
	l.orphans[rec.Path] = rec
	return nil
}

// forgetOrphan drops the orphan of path, its copy restored or gone.
func (l *Locker) forgetOrphan(path string) {
	l.mu.Lock()
	delete(l.orphans, path)
	l.mu.Unlock()
	if err := l.j.DeleteOrphans(l.session, path); err != nil {
		l.warn(path, fmt.Errorf("forget the lock's orphan: %w", err))
	}
}

// adoptOrphans restores the copies of the orphans that the rename of from
// to to moved, at their new paths.
func (l *Locker) adoptOrphans(from, to string) {
	now := l.opts.Now()
	l.mu.Lock()
	found := map[string]store.LockRecord{}
	for p, o := range l.orphans {
		if now.Sub(o.Orphaned) > orphanFor {
			delete(l.orphans, p)
			continue
		}
		if np, ok := wire.Moved(p, from, to); ok {
			found[np] = o
			delete(l.orphans, p)
		}
	}
	l.mu.Unlock()
	for np, rec := range found {
		restored, err := l.restoreAt(np, rec)
		if err != nil {
			l.warn(np, err)
		}
		if restored {
			l.forgetOrphan(rec.Path)
		}
	}
}

// settleOrphans looks for the journaled orphans' copies after a
// Reconcile: a user renamed the folder holding a locked copy while the
// agent was not watching (stopped, or the hub down, so nothing attached),
// or before an unlock whose orphan the agent did not keep until the
// rename's Moved (it stopped meanwhile). Each copy found is restored where
// it is now: left read-only and immutable, its locked mode would be taken
// for the user's by the next scan and spread to every host (make chaos,
// seeds 9052 and 5533). An orphan not found is forgotten once it is older
// than orphanFor.
func (l *Locker) settleOrphans() error {
	all, err := l.j.Orphans(l.session)
	if err != nil {
		return fmt.Errorf("lock: read the journal's orphans: %w", err)
	}
	look := map[string]store.LockRecord{}
	for _, rec := range all {
		if l.owns(rec) {
			look[rec.Path] = rec
		}
	}
	if len(look) == 0 {
		return nil
	}
	restored, whole := l.findOrphans(look)
	now := l.opts.Now()
	for p, rec := range look {
		if restored[p] || whole && now.Sub(rec.Orphaned) > orphanFor {
			l.forgetOrphan(p)
		}
	}
	return nil
}

// findOrphans walks the root once for the copies of orphans, restores each
// found where it is, and returns the paths of the orphans restored, and
// whether it walked the whole root (a folder it could not read ends the
// walk).
func (l *Locker) findOrphans(orphans map[string]store.LockRecord) (restored map[string]bool, whole bool) {
	byInode := map[[2]uint64]store.LockRecord{}
	for _, rec := range orphans {
		byInode[[2]uint64{rec.Dev, rec.Ino}] = rec
	}
	restored, whole = map[string]bool{}, true
	root := l.t.Dir()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			whole = false
			return fs.SkipAll
		}
		if len(byInode) == 0 {
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
		if ok, err := l.restoreAt(rel, rec); err != nil {
			l.warn(rel, err)
		} else if ok {
			delete(byInode, [2]uint64{dev, ino})
			restored[rec.Path] = true
		}
		return nil
	})
	return restored, whole
}
