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
	kind  wire.EntryKind
	size  int64
	mtime int64
	hash  wire.Hash
	at    time.Time
}

// maxSent bounds the log: 100,000 paths, about 15 MB.
const maxSent = 100_000

// add records the paths batch, sent as Changes seq, made or changed.
func (s *sentLog) add(seq uint64, batch []wire.Change, now time.Time) {
	for _, ch := range batch {
		if ch.Kind == wire.ChangeRemove {
			continue // nothing made: nothing a removal or rename could carry
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

// since calls fn for each path sent in a report numbered above seen,
// newest first: a walk as long as what the hub has not handled yet.
func (s *sentLog) since(seen uint64, fn func(it *sentItem)) {
	for i := len(s.items) - 1; i >= 0 && s.items[i].seq > seen; i-- {
		if s.items[i].path != "" {
			fn(&s.items[i])
		}
	}
}
