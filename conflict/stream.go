package conflict

import (
	"fmt"
	"iter"

	"github.com/peerlink/peerlink/wire"
)

// A Stream is one host's scan kept outside the engine (the hub spools it
// to disk), read in the order it was taken. Entries may be called more
// than once and must yield the same entries each time; the engine reads
// a stream twice (a check, then the merge) and holds none of its entries
// beyond one per host, so a million paths on three hosts need not be in
// memory three times over; nor does it keep their path strings (it copies
// a row's), so a stream may hand out paths that share larger blocks
// without the plan holding those. A stream in tree order (ComparePaths) is
// merged as it is read; any other is read into memory and sorted, as a
// scan in Input.Scans is.
type Stream interface {
	Entries() iter.Seq[wire.Entry]
}

// ComparePaths orders paths as the engine walks the tree: a folder right
// before everything below it, and everything below it before its next
// sibling (byte order with '/' before every other byte).
func ComparePaths(a, b string) int { return comparePaths(a, b) }

// streamCheck is what a stream's first read found: whether its kept
// entries are in tree order, and, when they are, which of them are
// malformed (by their place among the kept entries).
type streamCheck struct {
	sorted bool
	kept   int
	bad    map[int32]bool
}

// checkStream reads s once as scanOrder reads a scan, adding the same
// warnings in the same order, and marks the same entries malformed. It
// adds nothing when s is not in tree order: scanOrder then reads it.
func (e *engine) checkStream(host string, s Stream) streamCheck {
	type note struct{ key, msg string }
	var paths, others []note
	counts := map[string]int{}
	noteOnce := func(list *[]note, key, msg string) {
		if counts[key] == 0 {
			*list = append(*list, note{key, msg})
		}
		counts[key]++
	}
	chk := streamCheck{sorted: true}
	var last string
	kept := int32(0)
	for ent := range s.Entries() {
		if err := ent.Validate(); err != nil {
			if perr := wire.CheckPath(ent.Path); perr != nil {
				noteOnce(&paths, "path:"+host, fmt.Sprintf("host %s: entry ignored: %v", host, perr))
				continue
			}
			if kept > 0 && comparePaths(last, ent.Path) > 0 {
				return streamCheck{}
			}
			if kept > 0 && last == ent.Path {
				noteOnce(&others, "dup:"+host, fmt.Sprintf("host %s: %s is listed twice; left alone", host, ent.Path))
				chk.mark(kept - 1)
				continue
			}
			noteOnce(&others, "entry:"+host, fmt.Sprintf("host %s: %v; left alone", host, ent.Validate()))
			chk.mark(kept)
		} else {
			if kept > 0 && comparePaths(last, ent.Path) > 0 {
				return streamCheck{}
			}
			if kept > 0 && last == ent.Path {
				noteOnce(&others, "dup:"+host, fmt.Sprintf("host %s: %s is listed twice; left alone", host, ent.Path))
				chk.mark(kept - 1)
				continue
			}
		}
		last = ent.Path
		kept++
	}
	for _, n := range append(paths, others...) {
		e.warn.addN(n.key, n.msg, counts[n.key])
	}
	chk.kept = int(kept)
	return chk
}

func (c *streamCheck) mark(k int32) {
	if c.bad == nil {
		c.bad = map[int32]bool{}
	}
	c.bad[k] = true
}

// streamSource is a checked stream being merged: the kept entries in
// order, as scanOrder would have listed them, one at a time.
type streamSource struct {
	next func() (wire.Entry, bool)
	stop func()
	cur  wire.Entry
	ok   bool
	at   int32 // the place of cur among the kept entries
	last string
}

func openStream(s Stream) *streamSource {
	next, stop := iter.Pull(s.Entries())
	src := &streamSource{next: next, stop: stop, at: -1}
	src.advance()
	return src
}

// advance moves to the next kept entry: one whose path is a watch-set
// path and is not the path of the one before.
func (s *streamSource) advance() {
	for {
		ent, ok := s.next()
		if !ok {
			s.ok = false
			s.stop()
			return
		}
		if wire.CheckPath(ent.Path) != nil || s.at >= 0 && ent.Path == s.last {
			continue
		}
		s.cur, s.ok, s.last = ent, true, ent.Path
		s.at++
		return
	}
}

func (s *streamSource) close() {
	if s.ok {
		s.stop()
		s.ok = false
	}
}

// entrySlab stores the cells the engine keeps from streams, in blocks
// that never move.
type entrySlab struct{ block []wire.Entry }

func (s *entrySlab) add(ent wire.Entry) *wire.Entry {
	if len(s.block) == cap(s.block) {
		s.block = make([]wire.Entry, 0, 4096)
	}
	s.block = append(s.block, ent)
	return &s.block[len(s.block)-1]
}

// keepStreamed returns the cell of ent, host h's copy of row r: an equal
// cell of the row (another host's copy, or the record's entry) where
// there is one, so that hosts holding the same copy share it.
func (e *engine) keepStreamed(r, h int, ent wire.Entry) *wire.Entry {
	ent.Path = e.rows[r].path
	if rec := e.rows[r].rec; rec != nil && rec.Entry == ent {
		return &rec.Entry
	}
	for g := range h {
		if c := e.cell(r, g); c != nil && *c == ent {
			return c
		}
	}
	return e.slab.add(ent)
}
