package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// A user's change in a folder, reported to the hub, can reach it after it
// planned the rename of that folder that a user made elsewhere: the
// rename, applied here, moves the new path along with the folder, while
// the hub, which handles the report after the rename, takes it for a path
// at the old place (make chaos, seed 5533: a folder made in a folder as
// another host renamed it ended in the new folder here and in the old one
// everywhere else). Each Apply says which reports the hub had handled
// (Seen); the paths of later ones that a folder rename moved are reported
// again, as renamed from the old place to the new, which the hub carries
// out on the other hosts too. Files still settling there are reported at
// their new place.

// sentReport is a path the live loop reported lately.
type sentReport struct {
	seq   uint64     // the Changes that carried it
	entry wire.Entry // what it reported
	at    time.Time
}

// hubMove is a folder rename of the hub's applied here.
type hubMove struct {
	from, to string
	seen     uint64 // the Apply's Seen
}

// noteSent records batch, sent as Changes seq.
func (l *live) noteSent(seq uint64, batch []wire.Change) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range batch {
		if ch.Kind == wire.ChangeRemove {
			delete(l.sent, ch.Path)
			continue
		}
		l.sent[ch.Path] = sentReport{seq: seq, entry: ch.Entry, at: now}
	}
}

// pruneSent drops what was sent before cutoff: the hub handled it long
// before any rename it plans now. l.mu is held.
func (l *live) pruneSent(cutoff time.Time) {
	for p, s := range l.sent {
		if s.at.Before(cutoff) {
			delete(l.sent, p)
		}
	}
}

// refuseMadeIn refuses the removal of the folder dir, which the hub
// planned when it had handled this host's reports up to seen, if a user
// made something in it that was reported since: the removal would take
// it here while the report brings it to every other host (make chaos,
// seed 1: a folder made in a folder another host removed was gone here
// and kept everywhere else). The new content wins, as an edit does over a
// delete; the hub drops the removal once it knows of it.
func (l *live) refuseMadeIn(dir string, seen uint64) error {
	if l == nil || seen == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, s := range l.sent {
		if s.seq > seen && strings.HasPrefix(p, dir+"/") {
			return &wire.Error{Kind: wire.KindChanged, Path: dir, Msg: fmt.Sprintf("%s was made in it since the hub planned its removal", p)}
		}
	}
	return nil
}

// movedByHub records that an op of the hub's renamed folder from to to,
// planned when the hub had handled this host's reports up to seen, and
// has the live loop follow it.
func (l *live) movedByHub(from, to string, seen uint64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.moves = append(l.moves, hubMove{from: from, to: to, seen: seen})
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// followMoves reports again, at their new place, what the hub's folder
// renames moved before the hub knew of it.
func (l *live) followMoves(ctx context.Context) {
	l.flush(ctx) // what waits to be sent gets its Seq first
	for _, ch := range l.movedAgain() {
		l.add(ctx, ch)
	}
	l.flush(ctx)
}

// movedAgain returns the changes that report the paths the hub's folder
// renames moved before it knew of them, as renamed, and has the files
// settling there reported at their new paths.
func (l *live) movedAgain() []wire.Change {
	l.mu.Lock()
	moves := l.moves
	l.moves = nil
	var again []movedPath
	for _, mv := range moves {
		for p, s := range l.sent {
			to, ok := wire.Moved(p, mv.from, mv.to)
			if ok && p != mv.from && mv.seen > 0 && s.seq > mv.seen {
				again = append(again, movedPath{p, to, s.entry})
				delete(l.sent, p)
			}
		}
	}
	l.mu.Unlock()
	for _, mv := range moves {
		for p := range l.settle {
			if to, ok := wire.Moved(p, mv.from, mv.to); ok && p != mv.from {
				delete(l.settle, p)
				l.later(to)
			}
		}
	}
	// The highest paths only: a folder's move carries what is in it.
	slices.SortFunc(again, func(a, b movedPath) int { return strings.Compare(a.from, b.from) })
	var top []string
	var out []wire.Change
	for _, mv := range again {
		if slices.ContainsFunc(top, func(t string) bool { return strings.HasPrefix(mv.from, t+"/") }) {
			continue
		}
		top = append(top, mv.from)
		if e, ok := l.movedEntry(mv); ok {
			l.a.log.Debug().Str("session", l.s.name).Str("from", mv.from).Str("to", mv.to).Msg("reported again where the hub's folder rename moved it")
			out = append(out, wire.Change{Kind: wire.ChangeRename, Path: mv.to, OldPath: mv.from, Entry: e})
		}
	}
	return out
}

// movedPath is a path reported at from that a rename moved to to.
type movedPath struct {
	from, to string
	sent     wire.Entry // what was reported
}

// movedEntry returns mv's entry at its new path, unless the path was
// made again at its old place since, or is gone.
func (l *live) movedEntry(mv movedPath) (wire.Entry, bool) {
	if _, err := l.s.tree.Lstat(mv.from); err == nil {
		return wire.Entry{}, false
	}
	info, err := l.s.tree.Lstat(mv.to)
	if err != nil || (info.Kind != wire.KindFile && info.Kind != wire.KindDir) {
		return wire.Entry{}, false
	}
	e := info.Entry(mv.to)
	if e.Kind == wire.KindFile {
		if mv.sent.Kind == wire.KindFile && mv.sent.Size == e.Size && mv.sent.Mtime == e.Mtime {
			e.Hash = mv.sent.Hash
		} else if e.Hash, err = l.a.hashSigned(l.s, mv.to, info); err != nil {
			return wire.Entry{}, false
		}
	}
	return e, true
}
