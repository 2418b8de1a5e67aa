package agent

import (
	"time"

	"github.com/peerlink/peerlink/wire"
)

// sentLog is what the live loop reported lately, in the order it was
// sent: what an Apply's Seen is compared with (moved.go). It is bounded
// by age and by count; a report that fell out of it is judged as before
// the log existed (as if the hub had handled it).
type sentLog struct {
	items []sentItem // oldest first, so by Seq
}

// sentItem is one path a report carried.
type sentItem struct {
	seq   uint64 // the Changes that carried it
	path  string // "" once reported again (moved.go)
	from  string // a folder rename's old path, "" for anything else (renamed.go)
	gone  bool   // a removal of path: nothing made (renamed.go)
	kind  wire.EntryKind
	size  int64
	mtime int64
	hash  wire.Hash
	at    time.Time
}

// maxSent bounds the log: 100,000 paths, about 15 MB.
const maxSent = 100_000

// add records the paths batch, sent as Changes seq, made, changed or
// removed.
func (s *sentLog) add(seq uint64, batch []wire.Change, now time.Time) {
	for _, ch := range batch {
		if ch.Kind == wire.ChangeRemove {
			s.items = append(s.items, sentItem{seq: seq, path: ch.Path, gone: true, at: now})
			continue
		}
		e := ch.Entry
		it := sentItem{seq: seq, path: ch.Path, kind: e.Kind, size: e.Size, mtime: e.Mtime, hash: e.Hash, at: now}
		if ch.Kind == wire.ChangeRename {
			it.from = ch.OldPath
		}
		s.items = append(s.items, it)
	}
	if n := len(s.items) - maxSent; n > 0 {
		s.items = s.items[n:]
	}
}

// prune drops what was sent before cutoff: the hub handled it long before
// anything it plans now.
func (s *sentLog) prune(cutoff time.Time) {
	i := 0
	for i < len(s.items) && s.items[i].at.Before(cutoff) {
		i++
	}
	s.items = s.items[i:]
}

// since calls fn for each path made or changed in a report numbered above
// seen, newest first: a walk as long as what the hub has not handled yet.
// Removals are left out: nothing was made there that a removal or rename
// of the hub's could carry.
func (s *sentLog) since(seen uint64, fn func(it *sentItem)) {
	for i := len(s.items) - 1; i >= 0 && s.items[i].seq > seen; i-- {
		if it := &s.items[i]; it.path != "" && !it.gone {
			fn(it)
		}
	}
}

// leftSince calls fn for each path that a report numbered above seen
// removed (to "") or renamed as a folder (to its new path, "" once
// reported again), newest first.
func (s *sentLog) leftSince(seen uint64, fn func(from, to string)) {
	for i := len(s.items) - 1; i >= 0 && s.items[i].seq > seen; i-- {
		switch it := &s.items[i]; {
		case it.gone:
			fn(it.path, "")
		case it.from != "":
			fn(it.from, it.path)
		}
	}
}

// forgetLeft forgets the removals and folder renames logged so far: a scan
// that supersedes their reports saw them, and the hub plans from it.
func (s *sentLog) forgetLeft() {
	for i := range s.items {
		if it := &s.items[i]; it.gone {
			it.path, it.gone = "", false
		}
		s.items[i].from = ""
	}
}
