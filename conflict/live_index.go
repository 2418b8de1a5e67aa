package conflict

import "github.com/peerlink/peerlink/wire"

// LiveUpdate is how the index follows one propagated change once its ops
// ran, in this order: Forget, then MoveFrom, then Put.
type LiveUpdate struct {
	// Forget is a path whose record, and every record below it, is
	// dropped; "" for none.
	Forget string
	// MoveFrom is a rename's old path: its record and those below it move
	// to MoveTo, the new path (a folder's files move with it).
	MoveFrom, MoveTo string
	// Put is the path's record from now on, if any.
	Put *Record
}

// Update returns how the index follows c, made on host and carried to
// targets, once applied lists the targets on which the ops of c's path
// succeeded. away are the session's hosts that do not take part: a host
// away keeps its copy in its ledger, so a removal does not list it.
// The source holds the new state, and every target whose op succeeded.
func (c LiveChange) Update(host string, targets []string, applied, away map[string]bool) LiveUpdate {
	ch := c.Change
	if ch.Kind == wire.ChangeRemove {
		var left []string
		if c.Had {
			for _, h := range c.Prior.Hosts {
				if h != host && !applied[h] && !away[h] {
					left = append(left, h)
				}
			}
		}
		if len(left) == 0 {
			return LiveUpdate{Forget: ch.Path}
		}
		return LiveUpdate{Put: &Record{Entry: c.Prior.Entry, Hosts: left}}
	}
	var u LiveUpdate
	if ch.Kind == wire.ChangeRename {
		// What the destination held is replaced.
		u.Forget = ch.Path
		u.MoveFrom, u.MoveTo = ch.OldPath, ch.Path
	}
	hosts := []string{host}
	for _, t := range targets {
		if applied[t] {
			hosts = append(hosts, t)
		}
	}
	u.Put = &Record{Entry: ch.Entry, Hosts: hosts}
	return u
}
