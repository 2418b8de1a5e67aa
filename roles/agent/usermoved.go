package agent

import (
	"time"

	"github.com/peerlink/peerlink/wire"
)

// A file written just before a user renamed its folder may wait to be
// reported at its old path, where nothing is any more once the folder
// moved: settling when the rename's event comes, found gone as it settled
// before that event came, or its close seen after the rename, under the
// path it had when it was written (the watcher's write-opens and tree
// events come by different ways, not always in order). Its new content
// then stays here, while the hub, taking the rename for a move of what it
// knew, has the others rename their older copy (make chaos, seed 80097).
// So the loop reports such a file at its new path, after the rename.

// userMovesFor is how long a user's folder rename is followed; maxUserMoves
// bounds the renames remembered. vanishedFor is how long a file found gone
// as it settled waits for the event of its folder's rename, maxVanished
// how many do.
const (
	userMovesFor = expectFor
	maxUserMoves = 1024
	vanishedFor  = 5 * time.Second
	maxVanished  = 4096
)

// userMove is a folder a user renamed here, and when the loop saw it.
type userMove struct {
	from, to string
	at       time.Time
}

// settleMoved has the files settling below the folder from, which a user
// renamed to to, reported at their new paths, after the rename: the hub
// moves the records of what it knew of them with the folder, and their
// new content follows.
func (l *live) settleMoved(from, to string) {
	l.moveSettling(from, to)
	now := time.Now()
	for p, at := range l.vanished {
		np, ok := wire.Moved(p, from, to)
		switch {
		case now.Sub(at) >= vanishedFor:
			delete(l.vanished, p)
		case ok && p != from:
			delete(l.vanished, p)
			l.later(np)
		}
	}
}

// noteUserMove remembers that a user renamed the folder from to to, for
// the reports of files below it that come later under their old paths.
func (l *live) noteUserMove(from, to string) {
	now := time.Now()
	keep := l.userMoves[:0]
	for _, m := range l.userMoves {
		if now.Sub(m.at) < userMovesFor {
			keep = append(keep, m)
		}
	}
	l.userMoves = append(keep, userMove{from: from, to: to, at: now})
	if n := len(l.userMoves) - maxUserMoves; n > 0 {
		l.userMoves = l.userMoves[n:]
	}
}

// followUserMoves has path, a file to report that is gone, reported where
// the users' folder renames since moved it, if it is there.
func (l *live) followUserMoves(path string) {
	np := path
	for _, m := range l.userMoves {
		if time.Since(m.at) >= userMovesFor {
			continue
		}
		if moved, ok := wire.Moved(np, m.from, m.to); ok && np != m.from {
			np = moved
		}
	}
	if np == path {
		l.noteVanished(path)
		return
	}
	if info, err := l.s.tree.Lstat(np); err == nil && info.Kind == wire.KindFile {
		l.a.log.Debug().Str("session", l.s.name).Str("path", path).Str("now", np).Msg("reported where its folder's rename moved it")
		l.later(np)
	}
}

// noteVanished remembers path, a file found gone as it was to be
// reported, for the event of its folder's rename, should it come next.
func (l *live) noteVanished(path string) {
	now := time.Now()
	if l.vanished == nil {
		l.vanished = map[string]time.Time{}
	}
	if len(l.vanished) >= maxVanished {
		for p, at := range l.vanished {
			if now.Sub(at) >= vanishedFor {
				delete(l.vanished, p)
			}
		}
		if len(l.vanished) >= maxVanished {
			return // a burst of removals: the oldest wait, the rest go unfollowed
		}
	}
	l.vanished[path] = now
}

// moveSettling has the files settling below the folder from, which a
// rename moved to to, reported at their new paths.
func (l *live) moveSettling(from, to string) {
	for p := range l.settle {
		if np, ok := wire.Moved(p, from, to); ok && p != from {
			delete(l.settle, p)
			l.later(np)
		}
	}
}
