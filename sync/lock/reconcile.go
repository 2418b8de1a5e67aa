package lock

import (
	"errors"
	"fmt"
)

// Reconcile settles every journaled lock of the session on the Locker's
// root, as an agent must at start-up (before it watches anything) and after losing the hub: a
// lock for which keep is false (or keep is nil) is undone as Unlock does;
// one for which it is true is enforced again on the same inode (a crash
// may have cut it short), or, if another file took its place, that file is
// locked instead. Every lock is tried; the error joins those that failed,
// whose records stay for the next Reconcile. The copies of the journaled
// orphans (orphan.go) are looked for, and restored where they are found.
func (l *Locker) Reconcile(keep func(path string) bool) error {
	recs, err := l.j.Locks(l.session)
	if err != nil {
		return fmt.Errorf("lock: read the journal: %w", err)
	}
	var errs []error
	for _, rec := range recs {
		if !l.owns(rec) {
			continue
		}
		err := func() error {
			defer l.begin(rec.Path)()
			if cur, ok := l.record(rec.Path); ok {
				rec = cur
			} else {
				l.setHeld(rec)
			}
			if keep != nil && keep(rec.Path) {
				err := l.lock(rec.Path, parseHolder(rec.Holder), rec, true, rec.Since)
				if gone(err) {
					err = l.release(rec.Path, rec)
				}
				return err
			}
			return l.release(rec.Path, rec)
		}()
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Copies not at their journaled paths: moved while nobody watched,
	// now or before a restart (orphan.go).
	if err := l.settleOrphans(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
