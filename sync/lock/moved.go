package lock

import (
	"fmt"
	"strings"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

// Moved follows a rename of the folder from to to that carried locked
// copies with it (a user elsewhere renamed a project folder while a file in
// it was being written): their records, in memory and in the journal, name
// the new paths, so that the unlock that ends the write finds them. A
// locked file itself cannot be renamed (immutable), but its folder can.
// Copies whose lock was released before the rename was known get their
// mode and flags back at their new paths (orphan.go).
func (l *Locker) Moved(from, to string) error {
	l.adoptOrphans(from, to)
	l.mu.Lock()
	var moved []store.LockRecord
	var old []string
	for p, r := range l.held {
		np, ok := wire.Moved(p, from, to)
		if !ok {
			continue
		}
		old = append(old, p)
		r.Path = np
		files := splitLockFiles(r.LockFile)
		for i, f := range files {
			if nf, ok := wire.Moved(f, from, to); ok {
				files[i] = nf
			}
		}
		r.LockFile = strings.Join(files, "\x00")
		moved = append(moved, r)
	}
	l.mu.Unlock()
	if len(moved) == 0 {
		return nil
	}
	if err := l.j.PutLocks(moved...); err != nil {
		return fmt.Errorf("lock: journal the move of %s to %s: %w", from, to, err)
	}
	if err := l.j.DeleteLocks(l.session, old...); err != nil {
		return fmt.Errorf("lock: journal the move of %s to %s: %w", from, to, err)
	}
	for _, p := range old {
		l.dropHeld(p)
	}
	for _, r := range moved {
		l.setHeld(r)
	}
	return nil
}
