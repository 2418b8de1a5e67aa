//go:build !linux || watch_fsnotify

package watch

import "time"

// send passes ev on, blocking on the reader; false once stopped.
func (w *Watcher) send(ev Event) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.done:
		return false
	}
}

func (w *Watcher) loop() {
	defer func() {
		w.stop(nil)
		w.fsw.Close()
		close(w.events)
		close(w.finished)
	}()
	for _, ev := range w.initial {
		if !w.send(ev) {
			return
		}
	}
	w.initial = nil
	w.sendLimited()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var tc <-chan time.Time
		if at, ok := w.nextDeadline(); ok {
			timer.Reset(time.Until(at))
			tc = timer.C
		}
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.onError(err)
		case now := <-tc:
			w.onTimer(now)
		}
		w.sendLimited()
		if w.stopped() {
			return
		}
	}
}

// limitReached notes that the folder rel could not be added for err, a
// watch limit; its Limited is sent once (sendLimited).
func (w *Watcher) limitReached(rel string, err error) {
	if !w.limited {
		w.limited = true
		w.limitEv = &Event{Op: Limited, Path: rel, IsDir: true, Err: err}
	}
}

func (w *Watcher) sendLimited() {
	if w.limitEv != nil {
		w.send(*w.limitEv)
		w.limitEv = nil
	}
}

func (w *Watcher) nextDeadline() (time.Time, bool) {
	var at time.Time
	set := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if w.rename != nil {
		set(w.rename.deadline)
	}
	for _, l := range w.locks {
		if !l.announced {
			set(l.deadline)
		}
	}
	if len(w.written) > 0 {
		// Checked every quarter period rather than per file: a burst of
		// thousands of written files costs one pass per tick.
		set(w.lastQuiet.Add(quietPeriod / 4))
	}
	return at, !at.IsZero()
}

func (w *Watcher) onTimer(now time.Time) {
	if w.rename != nil && !now.Before(w.rename.deadline) {
		w.flushRename()
	}
	for rel, l := range w.locks {
		if !l.announced && !now.Before(l.deadline) {
			w.announce(rel, l)
		}
	}
	if now.Sub(w.lastQuiet) >= quietPeriod/4 {
		w.lastQuiet = now
		for rel, t := range w.written {
			if now.Sub(t) >= quietPeriod {
				delete(w.written, rel)
				w.send(Event{Op: Closed, Path: rel})
			}
		}
	}
}

func (w *Watcher) onError(err error) {
	if lerr := limitError(w.root, err); lerr != nil {
		w.limitReached("", lerr)
		return
	}
	// Overflow, or a folder that could not be read: either way something
	// may have been missed. Watch what is there again; the agent rescans.
	w.flushRename()
	w.send(Event{Op: Overflow})
	if err := w.addTree("", func(Event) {}, true); err != nil {
		w.stop(err)
	}
}
