package lock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

// Lock locks the copy of path for holder h:
//
//  1. the file is opened through the root (never through a symlink) and
//     refused with a KindBusy *wire.Error if it is open for writing here,
//     or if an application lock file that is not this Locker's says a
//     local user has it open (LibreOffice keeps no descriptor open);
//  2. the journal records path, device, inode, generation, mode and flags;
//  3. the write bits are removed;
//  4. the immutable flag is set, where this process and file system can
//     (the first refusal on a device turns it off there for this Locker);
//  5. the check of step 1 is made again, so that a writer who opened the
//     file between 1 and 3 is not left writing under a lock: the lock is
//     then undone and refused;
//  6. the application lock files of the file type are written, naming h.
//
// Steps 3 and 4 act on the descriptor opened in step 1, so on the very
// inode journaled. Locking a locked path again keeps the journaled
// original, re-applies what is missing and names the new holder. A crash
// after step 2 leaves a record from which Reconcile undoes the lock.
func (l *Locker) Lock(path string, h Holder) error {
	if err := wire.CheckName("host", h.Host); err != nil {
		return &wire.Error{Kind: wire.KindInvalid, Op: "lock", Path: path, Msg: "holder: " + err.Error()}
	}
	if err := checkPath(path); err != nil {
		return err
	}
	defer l.begin(path)()
	old, held := l.record(path)
	return l.lock(path, h, old, held, l.opts.Now())
}

func (l *Locker) lock(path string, h Holder, old store.LockRecord, held bool, since time.Time) error {
	f, err := l.open(path)
	if errors.Is(err, syscall.EAGAIN) {
		return l.busyError(path, "another process holds a write lease on it (an exclusive oplock of a Samba client?)")
	}
	if err != nil {
		return l.failed("lock", path, err)
	}
	defer f.Close()
	id, err := identify(f)
	if err != nil {
		return l.failed("lock", path, err)
	}
	if held {
		same, unsure := match(old, id)
		if unsure {
			return &wire.Error{Kind: wire.KindTransient, Op: "lock", Path: path, Msg: "cannot tell whether the file is the one locked: its inode generation cannot be read"}
		}
		if same {
			return l.relock(path, f, id, old, h, since)
		}
		// The locked file was replaced behind the lock: that lock protects
		// nothing any more. Let go of it, then lock the file there now.
		if err := l.release(path, old); err != nil {
			return err
		}
		held = false
	}

	if l.busy(path, f, id) {
		return l.busyError(path, "")
	}
	files := l.lockFiles(path)
	for _, lf := range files {
		if who, foreign := l.foreignLockFile(lf, h, old, held); foreign {
			return l.busyError(path, fmt.Sprintf("open in %s by %s here (lock file %s)", lf.Format, who, wire.Base(lf.Path)))
		}
	}

	rec := store.LockRecord{
		Session: l.session, Root: l.t.Dir(), Path: path,
		Dev: id.dev, Ino: id.ino, Gen: id.gen,
		Mode: id.mode, Flags: id.recFlags(),
		Holder: h.String(), Since: since.UTC(),
		LockFile: joinLockFiles(files),
	}
	if err := l.j.PutLocks(rec); err != nil {
		return fmt.Errorf("lock %s: journal: %w", path, err)
	}
	l.setHeld(rec)
	l.step("journaled")

	if err := l.enforce(f, &id, rec); err != nil {
		err = l.failed("lock", path, err)
		if uerr := l.release(path, rec); uerr != nil {
			return errors.Join(err, uerr)
		}
		return err
	}
	if l.busy(path, f, id) {
		berr := l.busyError(path, "")
		if uerr := l.release(path, rec); uerr != nil {
			return errors.Join(berr, uerr)
		}
		return berr
	}
	l.writeLockFiles(rec, h, nil)
	return nil
}

// relock enforces an existing lock on the same inode again (a crash may
// have cut it short) and names holder h, holding since since if new, in
// its record and lock files.
func (l *Locker) relock(path string, f *os.File, id ident, rec store.LockRecord, h Holder, since time.Time) error {
	prev := parseHolder(rec.Holder)
	if rec.Holder != h.String() || rec.Root == "" {
		if rec.Holder != h.String() {
			rec.Holder, rec.Since = h.String(), since.UTC()
		}
		rec.Root = l.t.Dir()
		if err := l.j.PutLocks(rec); err != nil {
			return fmt.Errorf("lock %s: journal: %w", path, err)
		}
		l.setHeld(rec)
	}
	if err := l.enforce(f, &id, rec); err != nil {
		return l.failed("lock", path, err)
	}
	l.writeLockFiles(rec, h, &prev)
	return nil
}

// busy reports whether the file is open for writing here. When that
// cannot be told (no lease, and /proc not readable everywhere: an agent
// that is not root) the lock goes ahead, with a warning.
func (l *Locker) busy(path string, f *os.File, id ident) bool {
	busy, err := writeOpen(f, id, l.noLease)
	if err != nil {
		l.warn(path, fmt.Errorf("cannot tell whether the file is open for writing here, locking it anyway: %w", err))
	}
	return busy
}

func (l *Locker) busyError(path, msg string) error {
	if msg == "" {
		msg = "open for writing here: it cannot be locked"
	}
	return &wire.Error{Kind: wire.KindBusy, Op: "lock", Path: path, Msg: msg}
}
