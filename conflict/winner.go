package conflict

import "github.com/peerlink/peerlink/wire"

// winner returns the host whose copy of row r every host must end with.
// This is the seed's "Last Modified Time Wins", with its arbitrary choice
// among equal candidates made deterministic:
//
// For a file, the winning content is the copy with the latest modification
// time (compared in whole seconds, floored, with TruncateMs). Among copies
// with equally late times and different contents, the content held by the
// most hosts wins (counting every host that holds the path), then the
// content of the host that comes first in Input.Hosts. The Manual resolver
// reaches this point only when all copies have the same content.
//
// The winning copy, whose modification time and mode every host gets, is
// then chosen among the holders of the winning content by, in turn: the
// latest modification time as compared above; the latest exact time; a
// mode that differs from the record's (a mode changed while the session
// was stopped, which does not move the modification time); the mode held
// by the most of those hosts; the host first in Input.Hosts.
//
// For a folder only the mode matters (folder modification times are not
// synchronised): a mode changed since the record, then the mode held by
// the most hosts, then the host first in Input.Hosts.
func (e *engine) winner(r int) int {
	if h, ok := e.allAlike(r); ok {
		return h
	}
	best := -1
	for h := range e.nh() {
		c := e.cell(r, h)
		if c == nil {
			continue
		}
		if best < 0 {
			best = h
			continue
		}
		// best stays the latest copy of its content: a later copy of the
		// same content (touched on one host) speaks for that content
		// against the others.
		b := e.cell(r, best)
		if c.Kind != wire.KindFile {
			continue
		}
		if sameContent(c, b) && e.mtime(c.Mtime) > e.mtime(b.Mtime) || !sameContent(c, b) && e.newerContent(r, c, b) {
			best = h
		}
	}
	content := e.cell(r, best)
	win := -1
	for h := range e.nh() {
		c := e.cell(r, h)
		if c == nil || !sameContent(c, content) {
			continue
		}
		if win < 0 || e.betterCopy(r, c, e.cell(r, win)) {
			win = h
		}
	}
	return win
}

// newerContent reports whether file copy a beats copy b of other content.
func (e *engine) newerContent(r int, a, b *wire.Entry) bool {
	if ta, tb := e.mtime(a.Mtime), e.mtime(b.Mtime); ta != tb {
		return ta > tb
	}
	return e.holders(r, a, false) > e.holders(r, b, false)
}

// betterCopy reports whether copy a beats copy b of the same content.
func (e *engine) betterCopy(r int, a, b *wire.Entry) bool {
	if a.Kind == wire.KindFile {
		if ta, tb := e.mtime(a.Mtime), e.mtime(b.Mtime); ta != tb {
			return ta > tb
		}
		if a.Mtime != b.Mtime {
			return a.Mtime > b.Mtime
		}
	}
	if a.Mode == b.Mode {
		return false
	}
	if ca, cb := e.modeChanged(r, a), e.modeChanged(r, b); ca != cb {
		return ca
	}
	return e.holders(r, a, true) > e.holders(r, b, true)
}

// holders counts the hosts whose copy of row r has c's content (and, with
// mode, c's mode).
func (e *engine) holders(r int, c *wire.Entry, mode bool) int {
	n := 0
	for h := range e.nh() {
		if x := e.cell(r, h); x != nil && sameContent(x, c) && (!mode || x.Mode == c.Mode) {
			n++
		}
	}
	return n
}

// modeChanged reports whether c has the record's content but not its mode.
func (e *engine) modeChanged(r int, c *wire.Entry) bool {
	rec := e.rows[r].rec
	return rec != nil && sameContent(&rec.Entry, c) && rec.Entry.Mode != c.Mode
}

// source returns the host a target fetches want from: one that holds
// exactly that content now, at that path. The winner is preferred; a copy
// that is only there once its host's rename is done is never used.
func (e *engine) source(r, win int, want *wire.Entry) string {
	if !e.isMoved(r, win) {
		return e.hosts[win]
	}
	for h := range e.nh() {
		if c := e.cell(r, h); c != nil && !e.isMoved(r, h) && sameContent(c, want) {
			return e.hosts[h]
		}
	}
	return e.hosts[win]
}

// allAlike reports whether every host holds the same copy of row r (the
// usual case on a restart), and the first host: then there is no contest.
func (e *engine) allAlike(r int) (int, bool) {
	cells := e.cells[r*e.nh() : (r+1)*e.nh()]
	first := cells[0]
	if first == nil {
		return 0, false
	}
	for _, c := range cells[1:] {
		if c == nil || !sameContent(c, first) || c.Mode != first.Mode || c.Mtime != first.Mtime && c.Kind == wire.KindFile {
			return 0, false
		}
	}
	return 0, true
}
