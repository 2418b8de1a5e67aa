//go:build linux && !watch_fsnotify

package watch

import (
	"errors"
	"maps"
	"slices"
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
// for writing now (see writersNow). Where nothing can tell, a file stays
// open until its next close. Without this a lock taken for a writer long
// gone would be held for ever.
func (w *Watcher) recheckOpen() {
	if len(w.open) == 0 {
		return
	}
	now := w.writersNow(slices.Collect(maps.Keys(w.open)))
	for rel := range w.open {
		if open, known := now[rel]; open || !known {
			continue
		}
		w.push(Event{Op: Closed, Path: rel})
		delete(w.open, rel)
		w.noteClose(rel)
		if w.leases != nil {
			w.armFile(rel, true)
		}
	}
}

// Writing tells, of each of paths, whether some process has it open for
// writing now: true if one has, false if none has or the file is gone;
// a path that cannot be told about is not in the map (see writersNow). It
// is safe to call from any goroutine: it reads nothing of the watcher's
// state but its root and mode.
func (w *Watcher) Writing(paths []string) map[string]bool { return w.writersNow(paths) }

// Writers returns the files below the root that some process other than
// the one named by Options.IgnorePid has open for writing now, where the
// mode can find them without being told which: in Fanotify mode by a look
// through /proc; nil in the other modes, where only the WriteOpen events
// name them. Safe from any goroutine, as Writing is.
func (w *Watcher) Writers() []string {
	if w.mode != Fanotify {
		return nil
	}
	var out []string
	for rel := range w.openWriters() {
		if !w.opts.Filter.Excluded(rel, false) {
			out = append(out, rel)
		}
	}
	return out
}

// writersNow tells, of each of rels, whether some process has it open for
// writing now: true if one has, false if none has or the file is gone, and
// nothing where that cannot be told. The kernel refuses a read lease
// exactly when someone has the file open for writing; where it grants none
// (fs.leases-enable=0, a file system without leases), Fanotify mode looks
// through /proc instead (openWriters), once for all of rels.
func (w *Watcher) writersNow(rels []string) map[string]bool {
	out := make(map[string]bool, len(rels))
	var unknown []string
	for _, rel := range rels {
		fd, err := w.openRel(rel, leaseFlags)
		switch {
		case err == nil:
			if busy, known := writtenNow(fd); known {
				out[rel] = busy
				continue
			}
		case errors.Is(err, unix.ENOENT):
			out[rel] = false
			continue
		}
		unknown = append(unknown, rel)
	}
	if len(unknown) > 0 && w.mode == Fanotify {
		procs := w.openWriters()
		for _, rel := range unknown {
			_, out[rel] = procs[rel]
		}
	}
	return out
}
