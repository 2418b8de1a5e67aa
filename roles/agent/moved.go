package agent

import (
	"context"
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

// seenUnknown stands for the Seen of a hub that does not number the
// reports it handled (an Apply without Numbered and a Seen of 0): no report
// is later than it, so nothing is taken for made since.
const seenUnknown = ^uint64(0)

// applySeen returns m's Seen as the agent uses it.
func applySeen(m *wire.Apply) uint64 {
	if m.Seen == 0 && !m.Numbered {
		return seenUnknown
	}
	return m.Seen
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
	l.sent.add(seq, batch, now)
}

// madeIn returns the paths in the folder dir, whose removal the hub
// planned (have being a folder) when it had handled this host's reports up
// to seen, that a user made there and reported since: the removal would
// take them here while their reports bring them to every other host (make
// chaos, seed 1: a folder made in a folder another host removed was gone
// here and kept everywhere else). removeAllBut keeps them.
func (l *live) madeIn(dir string, seen uint64, have *wire.Entry) []string {
	if l == nil || seen == seenUnknown || have == nil || have.Kind != wire.KindDir {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	seenPath := map[string]bool{}
	l.sent.since(seen, func(it *sentItem) {
		if strings.HasPrefix(it.path, dir+"/") && !seenPath[it.path] {
			seenPath[it.path] = true
			out = append(out, it.path)
		}
	})
	return out
}

// removeAllBut carries out the removal of the folder dir but for keep,
// paths in it made since the hub planned the removal: everything else
// goes, the largest parts that hold none of keep whole, as the hub's live
// removal does where the remover lacked something (conflict/live_keep.go).
// The new content wins, as an edit does over a delete; the folders that
// hold it stay.
func (a *Agent) removeAllBut(s *attached, dir string, keep []string) error {
	held := map[string]bool{} // keep and the folders above it, below dir
	for _, p := range keep {
		for q := p; q != dir && strings.HasPrefix(q, dir+"/"); q = wire.Parent(q) {
			held[q] = true
		}
	}
	a.log.Debug().Str("session", s.name).Str("path", dir).Strs("kept", keep).Msg("folder removed but for what was made in it since")
	var walk func(d string) error
	walk = func(d string) error {
		od, err := s.tree.OpenDir(d)
		if err != nil {
			return err
		}
		entries, err := od.Entries()
		od.Close()
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := d + "/" + e.Name
			switch {
			case !held[p]:
				s.live.forgetExpected(p, e.IsDir())
				s.live.expectChange(p, expectation{gone: true})
				if err := a.remove(s, p); err != nil {
					return err
				}
			case e.IsDir() && !slices.Contains(keep, p):
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(dir)
}

// movedByHub records that an op of the hub's renamed folder from to to,
// planned when the hub had handled this host's reports up to seen, and
// has the live loop follow it.
func (l *live) movedByHub(from, to string, seen uint64) {
	if l == nil {
		return
	}
	select {
	case <-l.done:
		return // the loop ended: nobody will look
	default:
	}
	l.mu.Lock()
	l.moves = append(l.moves, hubMove{from: from, to: to, seen: seen})
	// At once, not when the watcher's event of the rename comes: a
	// recheck of the files open for writing meanwhile would look for them
	// at their old paths, find nothing, and report them closed.
	l.reopen = append(l.reopen, l.opened.move(from, to)...)
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
	l.mu.Lock()
	reopen := l.reopen
	l.reopen = nil
	l.mu.Unlock()
	l.reannounce(ctx, reopen)
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
		// One rename after another: what an earlier one moved, a later
		// one may move on.
		for i := range again {
			if to, ok := wire.Moved(again[i].to, mv.from, mv.to); ok {
				again[i].to = to
			}
		}
		if mv.seen == seenUnknown {
			continue // a hub that does not say
		}
		l.sent.since(mv.seen, func(it *sentItem) {
			if to, ok := wire.Moved(it.path, mv.from, mv.to); ok && it.path != mv.from {
				again = append(again, movedPath{from: it.path, to: to, sent: *it})
				it.path = ""
			}
		})
	}
	l.mu.Unlock()
	for _, mv := range moves {
		l.moveSettling(mv.from, mv.to)
	}
	// The highest paths only: a folder's move carries what is in it.
	slices.SortFunc(again, func(a, b movedPath) int { return strings.Compare(a.from, b.from) })
	top := map[string]bool{}
	var out []wire.Change
	for _, mv := range again {
		if top[mv.from] || underAny(mv.from, top) {
			continue
		}
		top[mv.from] = true
		if e, ok := l.movedEntry(mv); ok {
			l.a.log.Debug().Str("session", l.s.name).Str("from", mv.from).Str("to", mv.to).Msg("reported again where the hub's folder rename moved it")
			out = append(out, wire.Change{Kind: wire.ChangeRename, Path: mv.to, OldPath: mv.from, Entry: e})
		}
	}
	return out
}

// underAny reports whether a folder above p is in set.
func underAny(p string, set map[string]bool) bool {
	for q := wire.Parent(p); q != ""; q = wire.Parent(q) {
		if set[q] {
			return true
		}
	}
	return false
}

// movedPath is a path reported at from that a rename moved to to.
type movedPath struct {
	from, to string
	sent     sentItem // what was reported
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
		if mv.sent.kind == wire.KindFile && mv.sent.size == e.Size && mv.sent.mtime == e.Mtime {
			e.Hash = mv.sent.hash
		} else if e.Hash, err = l.a.hashSigned(l.s, mv.to, info); err != nil {
			return wire.Entry{}, false
		}
	}
	return e, true
}
