package lock

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

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
