package lock

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// Journal is where a Locker records its locks before it applies them:
// *store.Agent, the lock bucket of agent.db.
type Journal interface {
	PutLocks(recs ...store.LockRecord) error
	DeleteLocks(session string, paths ...string) error
	Locks(session string) ([]store.LockRecord, error)
}

var _ Journal = (*store.Agent)(nil)

// Options adjust a Locker. The zero value is the production setting.
type Options struct {
	// NoImmutable never sets the immutable flag: a lock is then only the
	// removed write bits and the lock files, as for an agent without root.
	NoImmutable bool
	// NoLockFiles writes no application lock files.
	NoLockFiles bool
	// EchoWindow is how long OwnLockFile still claims a lock file the
	// Locker removed, so that the watcher takes the removal's event for
	// the Locker's own; 0 means 5 seconds.
	EchoWindow time.Duration
	// Warn, if set, hears of what does not fail a lock but weakens it: the
	// immutable flag refused on a file system (once per device), a lock
	// file that could not be written or removed, a foreign lock file left
	// in place.
	Warn func(path string, err error)
	// Now is the clock, for tests; nil is time.Now.
	Now func() time.Time
}

// Locker enforces and undoes the target locks of one session on one
// watch-set root. Its methods are safe for concurrent use; calls for the
// same path run one at a time. Use one Locker per session and root: the
// journal's records of the session are the Locker's.
type Locker struct {
	t       *tree.Tree
	j       Journal
	session string
	opts    Options

	mu        sync.Mutex
	held      map[string]store.LockRecord // by document path
	own       map[string]string           // lock file path -> document path, for held locks
	removed   map[string]time.Time        // lock file path -> when the Locker removed it
	inflight  map[string]chan struct{}    // paths with a call in progress
	immutable map[uint64]bool             // by device: false once the flag was refused there

	// Tests only.
	crash   func(step string) // called after each step that changes something
	noLease bool              // detect writers by /proc alone
}

// New returns the Locker of session on t, with the locks j has journaled
// for the session (a crashed agent's, which Reconcile undoes or keeps). It
// fails only if the journal cannot be read: a Locker that did not know of
// a journaled lock could record a locked copy's mode as its original.
func New(t *tree.Tree, j Journal, session string, opts Options) (*Locker, error) {
	if err := wire.CheckName("session", session); err != nil {
		return nil, &wire.Error{Kind: wire.KindInvalid, Msg: err.Error()}
	}
	recs, err := j.Locks(session)
	if err != nil {
		return nil, fmt.Errorf("lock: read the journal: %w", err)
	}
	if opts.EchoWindow <= 0 {
		opts.EchoWindow = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Locker{
		t: t, j: j, session: session, opts: opts,
		held:      make(map[string]store.LockRecord),
		own:       make(map[string]string),
		removed:   make(map[string]time.Time),
		inflight:  make(map[string]chan struct{}),
		immutable: make(map[uint64]bool),
	}
	for _, r := range recs {
		l.setHeld(r)
	}
	return l, nil
}

// Locked reports whether path is locked (journaled and not yet released).
func (l *Locker) Locked(path string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.held[path]
	return ok
}

// Held returns the locked paths, sorted.
func (l *Locker) Held() []string {
	l.mu.Lock()
	out := make([]string, 0, len(l.held))
	for p := range l.held {
		out = append(out, p)
	}
	l.mu.Unlock()
	slices.Sort(out)
	return out
}

// OwnLockFile reports whether path is an application lock file this
// Locker wrote for a lock it holds, or removed within the last EchoWindow
// with nothing at path since. The watcher asks it so as not to take the
// Locker's own lock files, their creation or their removal, for a local
// user opening or closing the document.
func (l *Locker) OwnLockFile(path string) bool {
	l.mu.Lock()
	_, own := l.own[path]
	at, removed := l.removed[path]
	l.mu.Unlock()
	if own {
		return true
	}
	if !removed || l.opts.Now().Sub(at) > l.opts.EchoWindow {
		return false
	}
	// A file there now is someone else's: the Locker's is gone.
	_, err := l.t.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}

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
		Session: l.session, Path: path,
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
	if rec.Holder != h.String() {
		rec.Holder, rec.Since = h.String(), since.UTC()
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

// enforce brings the file open as f, now as id, to the locked state of
// rec, updating id. A refusal of the immutable flag is remembered for the
// device and the lock goes on without it.
func (l *Locker) enforce(f *os.File, id *ident, rec store.LockRecord) error {
	imm := id.flagsOK && l.canImmutable(id.dev)
	mode, flags := lockedState(rec.Mode, rec.Flags, imm)
	err := l.apply(f, id, mode, flags)
	var pe *fs.PathError
	if err != nil && imm && errors.As(err, &pe) && pe.Op == "setflags" && flagRefused(err) {
		l.refuseImmutable(id.dev, rec.Path, err)
		mode, flags = lockedState(rec.Mode, rec.Flags, false)
		err = l.apply(f, id, mode, flags)
	}
	return err
}

// restore brings the file open as f, now as id, back to what rec
// journaled.
func (l *Locker) restore(f *os.File, id *ident, rec store.LockRecord) error {
	return l.apply(f, id, rec.Mode, rec.Flags)
}

// apply gives the file open as f, now as id, mode and then flags
// (flagsUnknown: leave the flags alone), updating id as it goes. A mode
// cannot be changed while the immutable or append-only flag is set, so
// those are cleared first where needed; flags then ends up set as asked.
func (l *Locker) apply(f *os.File, id *ident, mode, flags uint32) error {
	if id.mode != mode {
		if id.flagsOK && id.flags&(flagImmutable|flagAppend) != 0 {
			cleared := id.flags &^ (flagImmutable | flagAppend)
			if err := setFlags(f, cleared); err != nil {
				return err
			}
			id.flags = cleared
			l.step("unflagged")
		}
		if err := fchmod(f, mode); err != nil {
			return err
		}
		id.mode = mode
		l.step("chmod")
	}
	if flags != flagsUnknown && id.flagsOK && id.flags != flags {
		if err := setFlags(f, flags); err != nil {
			return err
		}
		id.flags = flags
		l.step("flags")
	}
	return nil
}

func (l *Locker) canImmutable(dev uint64) bool {
	if l.opts.NoImmutable {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, known := l.immutable[dev]
	return ok || !known
}

func (l *Locker) refuseImmutable(dev uint64, path string, err error) {
	l.mu.Lock()
	_, known := l.immutable[dev]
	l.immutable[dev] = false
	l.mu.Unlock()
	if !known {
		l.warn(path, fmt.Errorf("the immutable flag cannot be set on this file system (device %d) by this agent (uid %d): locks there only remove the write bits, which neither stop the owner nor a rename over the file: %w", dev, os.Geteuid(), err))
	}
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
	f, err := l.open(path)
	switch {
	case err == nil:
		defer f.Close()
		id, err := identify(f)
		if err != nil {
			return l.failed("unlock", path, err)
		}
		same, unsure := match(rec, id)
		if unsure {
			return &wire.Error{Kind: wire.KindTransient, Op: "unlock", Path: path, Msg: "cannot tell whether the file is the one locked: its inode generation cannot be read"}
		}
		if same {
			if err := l.restore(f, &id, rec); err != nil {
				return l.failed("unlock", path, err)
			}
		}
	case gone(err):
		// Removed, or something other than a regular file now: the
		// locked file is not there to restore.
	default:
		return l.failed("unlock", path, err)
	}
	l.step("restored")
	if err := l.removeLockFiles(rec); err != nil {
		return err
	}
	l.step("lockfiles")
	if err := l.j.DeleteLocks(l.session, path); err != nil {
		return fmt.Errorf("unlock %s: journal: %w", path, err)
	}
	l.dropHeld(path)
	return nil
}

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
//     with nothing at path the lock is released. The commit's error is
//     returned.
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

// Reconcile settles every journaled lock of the session, as an agent must
// at start-up (before it watches anything) and after losing the hub: a
// lock for which keep is false (or keep is nil) is undone as Unlock does;
// one for which it is true is enforced again on the same inode (a crash
// may have cut it short), or, if another file took its place, that file is
// locked instead. Every lock is tried; the error joins those that failed,
// whose records stay for the next Reconcile.
func (l *Locker) Reconcile(keep func(path string) bool) error {
	recs, err := l.j.Locks(l.session)
	if err != nil {
		return fmt.Errorf("lock: read the journal: %w", err)
	}
	var errs []error
	for _, rec := range recs {
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
	return errors.Join(errs...)
}

// open opens path for reading through the root, never through a symlink.
// A write lease held by someone else (Samba's kernel oplocks) makes the
// open fail with EAGAIN while the lease is broken; it is retried for up
// to a tenth of a second.
func (l *Locker) open(path string) (*os.File, error) {
	for try := 0; ; try++ {
		f, err := l.t.OpenRead(path)
		if err == nil || !errors.Is(err, syscall.EAGAIN) || try == 10 {
			return f, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone says that err means there is no regular file at the path: nothing
// there, or a folder, symlink or special file (tree refuses those as
// KindInvalid).
func gone(err error) bool {
	if err == nil {
		return false
	}
	var we *wire.Error
	return errors.Is(err, fs.ErrNotExist) || errors.As(err, &we) && (we.Kind == wire.KindInvalid || we.Kind == wire.KindNotFound)
}

// failed wraps a file system error of op on path, saying what to do where
// the cause is the agent's lack of rights.
func (l *Locker) failed(op, path string, err error) error {
	var we *wire.Error
	if errors.As(err, &we) {
		return err
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%s %s: the agent (uid %d) may not change this file: run the agent as root, or as the owner of the files it locks: %w", op, path, os.Geteuid(), err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

func checkPath(path string) error {
	if err := wire.CheckPath(path); err != nil {
		return &wire.Error{Kind: wire.KindInvalid, Path: path, Msg: err.Error()}
	}
	return nil
}

// begin waits until no other call is working on path and marks it busy;
// the returned function ends the call.
func (l *Locker) begin(path string) func() {
	l.mu.Lock()
	for {
		ch, ok := l.inflight[path]
		if !ok {
			break
		}
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
	}
	ch := make(chan struct{})
	l.inflight[path] = ch
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.inflight, path)
		l.mu.Unlock()
		close(ch)
	}
}

func (l *Locker) record(path string) (store.LockRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.held[path]
	return r, ok
}

func (l *Locker) setHeld(r store.LockRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.held[r.Path]; ok {
		for _, lf := range splitLockFiles(old.LockFile) {
			delete(l.own, lf)
		}
	}
	l.held[r.Path] = r
	for _, lf := range splitLockFiles(r.LockFile) {
		l.own[lf] = r.Path
		delete(l.removed, lf)
	}
}

func (l *Locker) dropHeld(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.held[path]; ok {
		for _, lf := range splitLockFiles(old.LockFile) {
			delete(l.own, lf)
		}
	}
	delete(l.held, path)
}

func (l *Locker) step(name string) {
	if l.crash != nil {
		l.crash(name)
	}
}

func (l *Locker) warn(path string, err error) {
	if l.opts.Warn != nil {
		l.opts.Warn(path, err)
	}
}

// Lock files are journaled in LockRecord.LockFile, several separated by
// NUL, which no path contains.
func joinLockFiles(files []appLock) string {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	return strings.Join(paths, "\x00")
}

func splitLockFiles(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

func (l *Locker) lockFiles(path string) []appLock {
	if l.opts.NoLockFiles {
		return nil
	}
	return lockFilesFor(path)
}

// recordedLockFiles returns the lock files rec journals, with their
// formats.
func recordedLockFiles(rec store.LockRecord) []appLock {
	var out []appLock
	for _, p := range splitLockFiles(rec.LockFile) {
		if f, ok := formatOf(rec.Path, p); ok {
			out = append(out, appLock{Path: p, Format: f})
		}
	}
	return out
}

// maxLockFile bounds what is read of an existing lock file: the real ones
// are a few hundred bytes.
const maxLockFile = 32000

// readLockFile returns the content and entry of the regular file at path;
// exists is false when there is none (nothing, or not a regular file:
// other is then set).
func (l *Locker) readLockFile(path string) (b []byte, e wire.Entry, exists, other bool, err error) {
	info, err := l.t.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, wire.Entry{}, false, false, nil
	}
	if err != nil {
		return nil, wire.Entry{}, false, false, err
	}
	if info.Kind != wire.KindFile {
		return nil, wire.Entry{}, false, true, nil
	}
	f, err := l.t.OpenRead(path)
	if err != nil {
		if gone(err) {
			return nil, wire.Entry{}, false, false, nil
		}
		return nil, wire.Entry{}, false, false, err
	}
	defer f.Close()
	b, err = io.ReadAll(io.LimitReader(f, maxLockFile))
	if err != nil {
		return nil, wire.Entry{}, false, false, err
	}
	if info, err = tree.Stat(f); err != nil {
		return nil, wire.Entry{}, false, false, err
	}
	return b, info.Entry(path), true, false, nil
}

// foreignLockFile reports whether lf exists and is not a lock file this
// package wrote for h or, when held, for old's holder; who is whom it
// names.
func (l *Locker) foreignLockFile(lf appLock, h Holder, old store.LockRecord, held bool) (who string, foreign bool) {
	b, _, exists, _, err := l.readLockFile(lf.Path)
	if err != nil || !exists {
		return "", false
	}
	if lf.Format.names(b, h) || held && lf.Format.names(b, parseHolder(old.Holder)) {
		return "", false
	}
	who, ok := lf.Format.holder(b)
	if !ok || who == "" {
		who = "someone"
	}
	return who, true
}

// writeLockFiles writes rec's lock files naming h, each atomically beside
// the document (tree.Create, Commit). One that is there already naming h
// stays; one naming prev (the previous holder) is replaced; anything else
// there is left alone. Failures are warned about, not returned: the lock
// holds without them.
func (l *Locker) writeLockFiles(rec store.LockRecord, h Holder, prev *Holder) {
	for _, lf := range recordedLockFiles(rec) {
		want := lf.Format.content(h, rec.Since)
		b, have, exists, other, err := l.readLockFile(lf.Path)
		switch {
		case err != nil:
			l.warn(lf.Path, fmt.Errorf("lock file not written: %w", err))
			continue
		case other:
			l.warn(lf.Path, errors.New("lock file not written: something other than a file has its name"))
			continue
		case exists && lf.Format.names(b, h):
			continue // there already
		case exists && (prev == nil || !lf.Format.names(b, *prev)):
			l.warn(lf.Path, errors.New("lock file not written: a lock file of someone else is there"))
			continue
		}
		var hp *wire.Entry
		if exists {
			hp = &have
		}
		if err := l.putFile(lf.Path, want, hp); err != nil {
			l.warn(lf.Path, fmt.Errorf("lock file not written: %w", err))
			continue
		}
		l.step("lockfile")
	}
}

// lockFileMode lets every local user's application read the lock file.
const lockFileMode = 0o644

func (l *Locker) putFile(path string, content []byte, have *wire.Entry) error {
	p, err := l.t.Create(path)
	if err != nil {
		return err
	}
	if _, err := p.Write(content); err != nil {
		p.Abort()
		return err
	}
	want := wire.Entry{Path: path, Kind: wire.KindFile, Size: int64(len(content)), Mtime: l.opts.Now().UnixNano(), Mode: lockFileMode, Hash: sha256.Sum256(content)}
	return p.Commit(want, have)
}

// removeLockFiles removes rec's lock files that this package wrote for
// rec's holder; others (a local user's, since) stay.
func (l *Locker) removeLockFiles(rec store.LockRecord) error {
	h := parseHolder(rec.Holder)
	var errs []error
	for _, lf := range recordedLockFiles(rec) {
		b, _, exists, _, err := l.readLockFile(lf.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("unlock %s: lock file: %w", rec.Path, err))
			continue
		}
		if !exists || !lf.Format.names(b, h) {
			continue
		}
		l.mu.Lock()
		l.pruneRemoved()
		l.removed[lf.Path] = l.opts.Now()
		l.mu.Unlock()
		if err := removeFile(l.t, lf.Path); err != nil {
			errs = append(errs, fmt.Errorf("unlock %s: lock file: %w", rec.Path, err))
		}
	}
	return errors.Join(errs...)
}

// pruneRemoved forgets removals older than the echo window; l.mu is held.
func (l *Locker) pruneRemoved() {
	now := l.opts.Now()
	for p, at := range l.removed {
		if now.Sub(at) > l.opts.EchoWindow {
			delete(l.removed, p)
		}
	}
}
