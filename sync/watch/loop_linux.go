//go:build linux && !watch_fsnotify

package watch

import "time"

const (
	// flushAt: the queue is sent on (blocking) once it is this long, even
	// in the middle of handling one kernel batch or listing a folder.
	flushAt = 1024
	// holdMax: how many events may wait behind the first half of a move
	// before that move is given up as a move out of the root.
	holdMax = 16384
)

// item is one place in the output queue: an event, or the first half of a
// move waiting for its second (not ready until it is known whether it is a
// rename or a move out of the root).
type item struct {
	ev    Event
	ready bool
}

// loop is the one goroutine that owns the watcher's state: it takes the
// kernel's events, the write-opens found by the fanotify and lease
// goroutines and its own timers, and sends events on.
func (w *Watcher) loop() {
	defer func() {
		w.stop(nil)
		if w.in != nil {
			w.in.Close() // ends readInotify's read
		}
		if w.ftree != nil {
			w.ftree.f.Close() // ends readTree's read
		}
		if w.fan != nil {
			w.fan.Close()
		}
		w.workers.Wait()
		w.release()
		w.timer.Stop()
		close(w.events)
		close(w.finished)
	}()
	for {
		if !w.flush() {
			return
		}
		// Write-opens first: they come from paths faster than inotify's
		// and should, where possible, precede the Changed their writer
		// causes.
		select {
		case r := <-w.fanCh:
			w.onFanOpen(r)
			continue
		case b := <-w.leaseCh:
			w.onLeaseBreak(b)
			continue
		default:
		}
		var timer <-chan time.Time
		if at, ok := w.nextDeadline(); ok {
			w.timer.Reset(time.Until(at))
			timer = w.timer.C
		}
		select {
		case <-w.done:
			return
		case evs := <-w.inCh:
			for _, ev := range evs {
				w.handle(ev)
				if w.stopped() {
					return
				}
			}
		case evs := <-w.treeCh:
			w.onTree(evs)
		case r := <-w.fanCh:
			w.onFanOpen(r)
		case b := <-w.leaseCh:
			w.onLeaseBreak(b)
		case <-timer:
			w.onTimer(time.Now())
		}
		if w.stopped() {
			return
		}
	}
}

// queue queues an event without sending anything on: a new folder's
// Created is sent only once the folder is watched (appeared), so a reader
// who acts on it finds it watched.
func (w *Watcher) queue(ev Event) { w.q = append(w.q, &item{ev: ev, ready: true}) }

// push queues an event; a long queue is sent on at once.
func (w *Watcher) push(ev Event) {
	w.q = append(w.q, &item{ev: ev, ready: true})
	if w.live && len(w.q) >= flushAt {
		w.flush()
		if len(w.q) >= holdMax {
			// Stuck behind a move's first half: give it up.
			w.expireMoves(time.Time{}, true)
			w.flush()
		}
	}
}

// flush sends the ready events at the head of the queue, blocking on the
// reader. It returns false if the watcher stopped meanwhile.
func (w *Watcher) flush() bool {
	n := 0
	for n < len(w.q) && w.q[n].ready {
		select {
		case w.events <- w.q[n].ev:
			w.q[n] = nil
			n++
		case <-w.done:
			return false
		}
	}
	if n > 0 {
		w.q = w.q[n:]
		if len(w.q) == 0 {
			w.q = nil // let the backing array go
		}
	}
	return true
}

// nextDeadline returns the earliest time a timer is due.
func (w *Watcher) nextDeadline() (time.Time, bool) {
	var at time.Time
	set := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	for _, m := range w.moveList {
		if !m.done {
			set(m.deadline)
			break // in arrival order: the first is the earliest
		}
	}
	for _, l := range w.locks {
		if !l.announced {
			set(l.deadline)
		}
	}
	for _, r := range w.rearm {
		set(r.at)
	}
	for _, t := range w.unseen {
		set(t)
	}
	for _, t := range w.closing {
		set(t)
	}
	return at, !at.IsZero()
}

func (w *Watcher) onTimer(now time.Time) {
	w.expireMoves(now, false)
	for rel, l := range w.locks {
		if !l.announced && !now.Before(l.deadline) {
			w.announce(rel, l)
		}
	}
	for rel, r := range w.rearm {
		if now.Before(r.at) {
			continue
		}
		delete(w.rearm, rel)
		w.retryLease(rel, r)
	}
	w.unseenDue(now)
	w.closingDue(now)
}

// unseenDue reports, as their WriteOpen, the modifications whose opener
// fanotify did not name in time, for the files still open for writing. A
// file nobody has open for writing any more was closed: if its close was
// seen it is no longer waiting here, so its close is still to come or was
// lost with other events (an overflow), and a WriteOpen reported now could
// be followed by no Closed at all, its lock held for ever. Its
// modification was reported (Changed), and so is its close if it comes.
func (w *Watcher) unseenDue(now time.Time) {
	var due []string
	for rel, t := range w.unseen {
		if !now.Before(t) {
			delete(w.unseen, rel)
			if !w.open[rel] {
				due = append(due, rel)
			}
		}
	}
	if len(due) == 0 {
		return
	}
	writing := w.writersNow(due)
	for _, rel := range due {
		if open, known := writing[rel]; open || !known {
			w.writeOpen(Event{Op: WriteOpen, Path: rel})
		}
	}
}
