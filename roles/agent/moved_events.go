package agent

import (
	"slices"
	"time"

	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// A user's change made in a folder just before the hub's rename of it is
// applied here reaches the loop after the rename: the watcher names it by
// the folder's old path, where nothing is any more, and the loop would
// drop it as gone, while the change moved with the folder; the hub would
// never hear of it (make chaos, seed 5533: a folder made in a/c as a/ was
// renamed to e/ by the hub stayed at e/c/d1 on its host alone). The
// watcher reports events in the order they happened, so every event
// before the rename's own is named by the old path: until the loop sees
// that rename, its events below the old path are handled at the new one.

// unwatchedMove is a folder rename of the hub's applied here whose own
// event the watcher has not reported yet.
type unwatchedMove struct {
	from, to string
	until    time.Time // given up on: the watcher may never report it
}

// renaming records the hub's rename of from to to, about to be applied
// here, before it is: an event the loop handles in between finds its path
// still in place and is not moved. done is called with the rename's error;
// a rename that failed moved nothing.
func (l *live) renaming(from, to string) (done func(error)) {
	if l == nil {
		return func(error) {}
	}
	m := &unwatchedMove{from: from, to: to, until: time.Now().Add(expectFor)}
	l.mu.Lock()
	l.unwatched = append(l.unwatched, m)
	l.mu.Unlock()
	return func(err error) {
		if err == nil {
			return
		}
		l.mu.Lock()
		l.unwatched = slices.DeleteFunc(l.unwatched, func(u *unwatchedMove) bool { return u == m })
		l.mu.Unlock()
	}
}

// beforeMoves returns ev as it is to be handled: ev itself, or, for an
// event that happened before a hub's folder rename applied here whose own
// event has not come yet, ev at the place the rename moved it. The
// rename's own event ends the translation.
func (l *live) beforeMoves(ev watch.Event) watch.Event {
	l.mu.Lock()
	if len(l.unwatched) == 0 {
		l.mu.Unlock()
		return ev
	}
	now := time.Now()
	kept := l.unwatched[:0]
	var moves []unwatchedMove
	for _, m := range l.unwatched {
		if ev.Op == watch.Renamed && ev.OldPath == m.from && ev.Path == m.to {
			continue // the rename's own event: what follows is named right
		}
		if now.Before(m.until) {
			kept = append(kept, m)
			moves = append(moves, *m)
		}
	}
	l.unwatched = kept
	l.mu.Unlock()
	if ev.Op == watch.Renamed && ev.OldPath != "" {
		ev.OldPath = movedPathOf(ev.OldPath, moves)
	}
	if to := movedPathOf(ev.Path, moves); to != ev.Path {
		// A path made again at the old place since is the user's own.
		if ev.Op == watch.Removed || ev.Op == watch.Renamed || l.goneHere(ev.Path) {
			ev.Path = to
		}
	}
	return ev
}

// movedPathOf returns where the moves, in the order they were applied,
// took p.
func movedPathOf(p string, moves []unwatchedMove) string {
	for _, m := range moves {
		if to, ok := wire.Moved(p, m.from, m.to); ok {
			p = to
		}
	}
	return p
}

// goneHere says whether nothing is at p now.
func (l *live) goneHere(p string) bool {
	_, err := l.s.tree.Lstat(p)
	return err != nil
}
