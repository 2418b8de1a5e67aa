package lock

import (
	"errors"
	"fmt"
	"os"

	"github.com/peerlink/peerlink/wire"
)

// Replace applies a new version to the locked copy of path: commit puts
// it in place, by renaming a new file over the copy (tree.Pending.Commit).
// The immutable flag is cleared first: a rename over an immutable file is
// refused, root or not. Nothing is journaled for that: the record already
// undoes both states, the old inode with the flag cleared (restored to its
// original) and the new one at the path (a different inode: only the lock
// files and the record go). Then:
//
//   - commit succeeds: the lock is released. The new file keeps the mode
//     commit gave it; the old inode, should it live on under another name
//     (a hard link), gets its original mode and flags back; the lock files
//     and the record are removed.
//   - commit fails: the lock is put back on whatever regular file is at
//     path, exactly as before on the old inode, or journaled first and
//     locked anew on a new one (a commit that renamed and then failed);
//     with nothing at path (a user renamed the copy away meanwhile) the
//     old inode gets its original mode and flags back and the lock is
//     released. The commit's error is returned.
//
// A path that is not locked just runs commit.
func (l *Locker) Replace(path string, commit func() error) error {
	if err := checkPath(path); err != nil {
		return err
	}
	defer l.begin(path)()
	rec, ok := l.record(path)
	if !ok {
		return commit()
	}
	var (
		f    *os.File
		id   ident
		same bool
	)
	f, err := l.open(path)
	switch {
	case err == nil:
		defer f.Close()
		if id, err = identify(f); err != nil {
			return l.failed("replace", path, err)
		}
		var unsure bool
		if same, unsure = match(rec, id); unsure {
			return &wire.Error{Kind: wire.KindTransient, Op: "replace", Path: path, Msg: "cannot tell whether the file is the one locked: its inode generation cannot be read"}
		}
	case !gone(err):
		return l.failed("replace", path, err)
	}
	if same && id.flagsOK && id.flags&flagImmutable != 0 && rec.Flags&flagImmutable == 0 {
		if err := setFlags(f, id.flags&^flagImmutable); err != nil {
			return l.failed("replace", path, err)
		}
		id.flags &^= flagImmutable
		l.step("cleared")
	}

	if cerr := commit(); cerr != nil {
		err := l.lock(path, parseHolder(rec.Holder), rec, true, rec.Since)
		if gone(err) {
			if same {
				// Renamed away by a user while its flag was off (make
				// chaos, seed 3535): under its new name it is nobody's
				// locked copy, and its read-only mode would spread as
				// the user's. The inode is still open here.
				if rerr := l.restore(f, &id, rec); rerr != nil {
					l.warn(path, fmt.Errorf("replace: restore the renamed inode's mode: %w", rerr))
				}
			}
			err = l.release(path, rec)
		}
		if err != nil {
			return errors.Join(cerr, fmt.Errorf("replace %s: lock again after the failed commit: %w", path, err))
		}
		return cerr
	}
	l.step("committed")

	if same {
		if err := l.restore(f, &id, rec); err != nil {
			l.warn(path, fmt.Errorf("replace: restore the replaced inode's mode: %w", err))
		}
	}
	if err := l.removeLockFiles(rec); err != nil {
		return err
	}
	if err := l.j.DeleteLocks(l.session, path); err != nil {
		return fmt.Errorf("replace %s: journal: %w", path, err)
	}
	l.dropHeld(path)
	return nil
}
