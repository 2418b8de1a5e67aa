package lock

import (
	"fmt"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

// Unlock releases the lock of path: the journaled mode and flags go back
// onto the journaled inode (device, inode number and generation) if it is
// still at path, else nothing is restored; the Locker's lock files are
// removed; then the record is deleted. If a step fails the record stays
// for a later Unlock or Reconcile, and the error says why. A path that is
// not locked is not an error.
func (l *Locker) Unlock(path string) error {
	defer l.begin(path)()
	rec, ok := l.record(path)
	if !ok {
		return nil
	}
	return l.release(path, rec)
}

func (l *Locker) release(path string, rec store.LockRecord) error {
	found, err := l.restoreAt(path, rec)
	if err != nil {
		return err
	}
	if !found {
		if err := l.keepOrphan(rec); err != nil { // orphan.go
			return err
		}
	}
	l.step("restored")
	if err := l.removeLockFiles(rec); err != nil {
		return err
	}
	l.step("lockfiles")
	if err := l.j.DeleteLocks(l.session, rec.Path); err != nil {
		return fmt.Errorf("unlock %s: journal: %w", rec.Path, err)
	}
	l.dropHeld(rec.Path)
	return nil
}

// MovedAway follows a user's rename of the locked file from to to, which
// a file system without the immutable flag allows (renaming needs the
// folder's write permission only), or the moment before the flag is set:
// the file under its new name is nobody's locked copy, so the journaled
// mode and flags go back onto it there, and the lock of from ends. Else
// its read-only mode would be taken for the user's and spread to every
// host (make chaos, seed 3535). A path that is not locked is not an error.
func (l *Locker) MovedAway(from, to string) error {
	defer l.begin(from)()
	rec, ok := l.record(from)
	if !ok {
		return nil
	}
	return l.release(to, rec)
}

// restoreAt puts rec's journaled mode and flags back onto the file at
// path, if it is the inode rec journaled, and says whether it was.
func (l *Locker) restoreAt(path string, rec store.LockRecord) (bool, error) {
	f, err := l.open(path)
	switch {
	case err == nil:
		defer f.Close()
		id, err := identify(f)
		if err != nil {
			return false, l.failed("unlock", path, err)
		}
		same, unsure := match(rec, id)
		if unsure {
			return false, &wire.Error{Kind: wire.KindTransient, Op: "unlock", Path: path, Msg: "cannot tell whether the file is the one locked: its inode generation cannot be read"}
		}
		if !same {
			return false, nil
		}
		if err := l.restore(f, &id, rec); err != nil {
			return false, l.failed("unlock", path, err)
		}
		return true, nil
	case gone(err):
		// Removed, or something other than a regular file now: the
		// locked file is not there to restore.
		return false, nil
	default:
		return false, l.failed("unlock", path, err)
	}
}
