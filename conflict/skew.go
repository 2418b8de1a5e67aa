package conflict

import (
	"fmt"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// Clock is what the hub measured of a host's clock against its own, for
// Input.Clocks.
type Clock struct {
	// Offset is the host's clock minus the hub's: +5s when the host's
	// clock reads five seconds later than the hub's.
	Offset time.Duration `json:"offset"`
	// Error bounds how far Offset may be from the truth (half the round
	// trip of the measurement it comes from); negative counts as zero.
	Error time.Duration `json:"error,omitempty"`
}

// maxClock bounds an offset or error as the engine uses it, far beyond any
// real clock, so that the sums of skew cannot overflow.
const maxClock = 50 * 365 * 24 * time.Hour // four of them fit an int64

func clampClock(d time.Duration) time.Duration {
	return max(-maxClock, min(maxClock, d))
}

// setClocks keeps the clocks of the participants, or none at all when no
// skew can arise (every offset and error zero): then the engine behaves
// exactly as without Input.Clocks.
func (e *engine) setClocks(in *Input) {
	off := false
	clocks := make([]Clock, e.nh())
	for h, name := range e.hosts {
		c := in.Clocks[name]
		c.Offset, c.Error = clampClock(c.Offset), clampClock(max(0, c.Error))
		clocks[h] = c
		off = off || c.Offset != 0 || c.Error != 0
	}
	if off {
		e.clocks = clocks
	}
}

// skew is how far apart the clocks of hosts a and b may be: the
// difference of their offsets, plus the error of each measurement.
//
// The difference, not the sum of the offsets' sizes: two modification
// times are each stamped by their own host's clock, so comparing them
// suffers only from how far those two clocks disagree. Two hosts that
// both run 5 s ahead of the hub order their edits rightly, and a hub
// whose own clock is wrong (every offset large) is no party to the
// comparison at all: with the sum it would quarantine every close
// conflict of every session for a fault of its own. The errors are added
// because each offset is known only within its measurement's error.
func (e *engine) skew(a, b int) time.Duration {
	ca, cb := e.clocks[a], e.clocks[b]
	d := ca.Offset - cb.Offset
	if d < 0 {
		d = -d
	}
	return d + ca.Error + cb.Error
}

// clockSkew reports, for row r under "Last Modified Time Wins", whether the
// decision would rest on modification times closer together than the
// clocks that stamped them can tell apart, and says why. That is when
// two hosts changed the file while the session was stopped (or hold
// copies no record accounts for), to different contents, one of them the
// winning content, and the two times differ by less than the skew between
// the two hosts. Only edits count: an unchanged copy's time is the
// record's, stamped by whichever host wrote it first, whose clock is not
// known here; and two edits that both lose to a third are not decided
// between. Times are compared exactly, also with TruncateMs: the option
// says how to compare times, not how far apart the clocks are.
func (e *engine) clockSkew(r int) (string, bool) {
	if e.clocks == nil || e.opt.Resolver != LastModified {
		return "", false
	}
	win := e.winner(r)
	w := e.cell(r, win)
	if w == nil || w.Kind != wire.KindFile {
		return "", false
	}
	for a := range e.nh() {
		ca := e.cell(r, a)
		if ca == nil || !e.edited(a) || !sameContent(ca, w) {
			continue
		}
		for b := range e.nh() {
			cb := e.cell(r, b)
			if cb == nil || cb.Kind != wire.KindFile || !e.edited(b) || sameContent(cb, w) {
				continue
			}
			gap, skew := time.Duration(ca.Mtime-cb.Mtime), e.skew(a, b)
			if gap < 0 {
				gap = -gap
			}
			if gap < skew {
				return fmt.Sprintf("%s and %s changed it %s apart by their clocks, which may differ by %s: "+
					"last-modified-time-wins cannot tell which change is later", e.hosts[a], e.hosts[b],
					roundClock(gap), roundClock(skew)), true
			}
		}
	}
	return "", false
}

// edited reports whether host h's copy of the current row is an edit
// stamped by h's own clock: changed since the record, or not accounted
// for by one.
func (e *engine) edited(h int) bool { return e.state[h] == sChanged || e.state[h] == sNew }

// roundClock shortens a duration for a detail line.
func roundClock(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}
