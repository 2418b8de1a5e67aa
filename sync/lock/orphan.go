package lock

import (
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
