package agent

import (
	"fmt"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// A folder renamed here by a user can reach the hub after it planned ops
// at the folder's old place: the hub then takes the rename as made after
// those ops, and moves whatever they left at the old place to the new one
// in its index. Applied at the old place, they would make the folder
// again there, outside what the hub knows, and leave the new place
// without them (make chaos, seed 71048: a file fetched into a folder just
// renamed here made the folder again and landed in it; the index then
// listed this host as holding the file at the folder's new name, where it
// never was, and nothing ever brought it there). So such an op is refused,
// as one at a path removed here lately is (removed.go): the hub lags this
// host on the path, moves the lag with the rename it handles next, and
// the repair brings the content to the new place. A mkdir of the renamed
// folder itself is done already: the folder is here, under the name its
// rename's report brings to the hub.

// renamedAway returns the folder renamed here, from and to, at or above
// path, in a report the hub had not handled when it had handled this
// host's reports up to seen; ok is false if there is none.
func (l *live) renamedAway(path string, seen uint64) (from, to string, ok bool) {
	if l == nil || seen == seenUnknown {
		return "", "", false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent.since(seen, func(it *sentItem) {
		if !ok && it.from != "" && (path == it.from || strings.HasPrefix(path, it.from+"/")) {
			from, to, ok = it.from, it.path, true
		}
	})
	return from, to, ok
}

// beforeRename settles op, planned when the hub had handled this host's
// reports up to seen, if a folder at or above its path was renamed here
// since: settled is true, with op's result, when op must not be applied.
// A rename of the hub's is left to fail on its own, which starts the
// session over (hub: reconcileError).
func (a *Agent) beforeRename(s *attached, op *wire.Op, seen uint64) (res wire.OpResult, settled bool) {
	if op.Kind == wire.OpRename {
		return wire.OpResult{}, false
	}
	from, to, ok := s.live.renamedAway(op.Path, seen)
	switch {
	case !ok:
		return wire.OpResult{}, false
	case op.Path == from:
		if op.Kind != wire.OpMkdir {
			return wire.OpResult{}, false // the folder's own removal or replacement: judged as before
		}
		a.log.Debug().Str("session", s.name).Str("path", op.Path).Str("to", to).Msg("mkdir of a folder renamed here since: done")
		return wire.OpResult{Kind: op.Kind, Path: op.Path, Entry: op.Want}, true
	}
	err := &wire.Error{Kind: wire.KindChanged, Path: op.Path, Msg: fmt.Sprintf(
		"its folder %s was renamed here to %s after the hub planned this: not made at the old place", from, to)}
	return a.failed(s, op, err), true
}
