package conflict

import (
	"fmt"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// setWriting keeps, per participant, the files its scan found open for
// writing; e.writing stays nil when no host has any, so that the engine
// then does exactly what it would without Input.Writing.
func (e *engine) setWriting(in *Input) {
	for h, name := range e.hosts {
		paths := in.Writing[name]
		if len(paths) == 0 {
			continue
		}
		if e.writing == nil {
			e.writing = make([]map[string]bool, e.nh())
		}
		e.writing[h] = make(map[string]bool, len(paths))
		for _, p := range paths {
			e.writing[h][p] = true
		}
	}
}

// openOn reports whether host h has the file of row r open for writing.
func (e *engine) openOn(r, h int) bool {
	c := e.cell(r, h)
	return e.writing[h] != nil && c != nil && c.Kind == wire.KindFile && e.writing[h][e.rows[r].path]
}

// openConflict applies the seed's two rules on open files to row r, whose
// fate the other rules settled as f (keep or delete): "two or more users
// have the same file open on different hosts when a collaboration job is
// started", and "a file is open at the start of a job and has been
// modified on a host where the configured conflict resolution strategy
// selects a different host as the winner". Either way the row is
// quarantined (ReasonOpen) rather than the open copy replaced or removed:
// its writer's later writes would go to a file no longer in the tree.
// An open copy whose content wins, or that only gets a new time or mode,
// loses nothing and is left to the plan.
func (e *engine) openConflict(r int, f fate) fate {
	var open []string
	for h := range e.nh() {
		if e.openOn(r, h) {
			open = append(open, e.hosts[h])
		}
	}
	switch {
	case len(open) == 0:
		return f
	case len(open) > 1:
		return e.quarantine(r, ReasonOpen, "open for writing on "+strings.Join(open, " and ")+
			" at once: whichever copy won, the other writer's work would be lost")
	case f == fateDelete:
		return e.quarantine(r, ReasonOpen, fmt.Sprintf("open for writing on %s, which the session would delete there "+
			"(deleted elsewhere): left as it is so that its writer's work is not lost", open[0]))
	}
	win := e.winner(r)
	w := e.cell(r, win)
	for h := range e.nh() {
		if e.openOn(r, h) && !sameContent(e.cell(r, h), w) {
			return e.quarantine(r, ReasonOpen, fmt.Sprintf("open for writing on %s, whose copy %s's would replace "+
				"by the session's rules: left as it is so that its writer's work is not lost", e.hosts[h], e.hosts[win]))
		}
	}
	return f
}
