//go:build linux && !watch_fsnotify

package watch

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// overflow: events were lost. Moves waiting for their second half are
// settled as moves out (the agent rescans anyway), the watches are checked
// against the tree, and the lock files and leases are re-read.
func (w *Watcher) overflow() {
	w.expireMoves(time.Time{}, false)
	w.push(Event{Op: Overflow})
	clear(w.dirty)
	if err := w.resync(); err != nil {
		w.stop(err)
		return
	}
	w.recheckOpen()
}

// recheckOpen reports the Closed of files reported open whose close may
// have been among the events lost: those gone, and those nobody has open
// for writing now (the kernel refuses a read lease exactly when someone
// has). Where no lease can tell, a file stays open until its next close.
// Without this a lock taken for a writer long gone would be held for ever.
func (w *Watcher) recheckOpen() {
	for rel := range w.open {
		fd, err := w.openRel(rel, leaseFlags)
		if err == nil {
			if busy, known := writtenNow(fd); busy || !known {
				continue
			}
		} else if !errors.Is(err, unix.ENOENT) {
			continue
		}
		w.push(Event{Op: Closed, Path: rel})
		delete(w.open, rel)
		w.noteClose(rel)
		if w.leases != nil && err == nil {
			w.armFile(rel, true)
		}
	}
}
