package watch

import "time"

// A file may be open for writing more than once at a time: two processes,
// or one application with two descriptors (office suites and CAD programs
// do that), or an editor's write beside a tool's truncate. Every close of
// one of them is an IN_CLOSE_WRITE, but the file is closed only once the
// last writer has let go: a Closed reported at the first would have the hub
// release the other hosts' copies while a writer here still writes (make
// chaos, seed 7303: a truncate's close beside a write-open ended the lock,
// another host then wrote the file too, and the two versions stayed apart).
// So a close is reported as Closed only when nobody has the file open for
// writing any more, as far as a read lease can tell (the kernel refuses one
// exactly then). Where no lease can be taken (leases disabled, a file
// system without them, a non-root agent on another's file) every close is
// a Closed, as before.

// closeWrite acts on the IN_CLOSE_WRITE of the file rel.
func (w *Watcher) closeWrite(rel string) {
	if _, ok := w.unseen[rel]; ok {
		// Written and closed before fanotify could name the opener.
		delete(w.unseen, rel)
		if !w.open[rel] {
			w.push(Event{Op: WriteOpen, Path: rel})
		}
	}
	if w.open[rel] && w.writtenElsewhere(rel) {
		// Another writer, or the closer itself still on its way out of
		// close(2) when its event is read: looked at again shortly.
		if _, ok := w.closing[rel]; !ok {
			w.closing[rel] = time.Now().Add(rearmRetry)
		}
		return
	}
	w.closed(rel)
}

// closed reports the Closed of rel and forgets it as open.
func (w *Watcher) closed(rel string) {
	w.push(Event{Op: Closed, Path: rel})
	delete(w.open, rel)
	delete(w.dirty, rel)
	delete(w.closing, rel)
	w.noteClose(rel)
	if w.leases != nil {
		w.armFile(rel, true)
	}
}

// writtenElsewhere reports whether rel is known to be open for writing
// now. Unknown is false: a close is then taken as the last.
func (w *Watcher) writtenElsewhere(rel string) bool {
	fd, err := w.openRel(rel, leaseFlags)
	if err != nil {
		return false
	}
	busy, known := writtenNow(fd)
	return busy && known
}

// closingDue looks again at the closes held back: a file nobody writes any
// more is Closed now; one still written waits for its last writer's close,
// and is looked at every staleAfter meanwhile, in case that close is lost,
// so that no lock is held for good.
func (w *Watcher) closingDue(now time.Time) {
	for rel, at := range w.closing {
		switch {
		case now.Before(at):
		case !w.open[rel]:
			delete(w.closing, rel) // closed or gone meanwhile
		case w.writtenElsewhere(rel):
			w.closing[rel] = now.Add(staleAfter)
		default:
			w.closed(rel)
		}
	}
}
