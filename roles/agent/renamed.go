package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// A folder renamed or removed here by a user can reach the hub after it
// planned ops at the folder's old place: the hub then takes the rename or
// removal as made after those ops, and moves whatever they left at the old
// place to the new one in its index, or removes it with the folder.
// Applied at the old place, they would make the folder again there,
// outside what the hub knows, and leave the new place without them (make
// chaos, seed 71048: a file fetched into a folder just renamed here made
// the folder again and landed in it; the index then listed this host as
// holding the file at the folder's new name, where it never was, and
// nothing ever brought it there). Or they would land in a folder of the
// same name a user made again since, and the hub, taking this host for
// holding them, removes them with the folder everywhere (seed 90038: the
// retry of a fetch into a folder removed here and made again, the file
// being written elsewhere, was lost on every other host). So such an op
// is refused, as one at a path removed here lately is (removed.go): the
// hub lags this host on the path, moves the lag with the rename it
// handles next (or keeps the file, which this host did not hold, out of
// the removal: conflict/live_keep.go), and the repair brings the content
// where it belongs. A mkdir is never refused (a folder's lag would leave
// out of a catch-up everything below it: make chaos, seed 5122): of the
// folder itself it is done already, the folder being here under its new
// name, or gone as the report the hub handles next says; below a folder
// renamed it is made at the new place, where the hub will have it once it
// handled the rename. Below one removed it is done already too, not made:
// the hub takes this host for holding it and removes it everywhere with
// the folder, as the report it handles next says. Made, with the folders
// above it again, it stayed here alone, the echo of the op hiding it from
// the hub (make chaos, seed 110095: a folder made on one host while a
// user removed its parent here).

// A report can also still be on its way when the op comes: the watcher's
// event handled, or queued, and not yet sent (flushAfter). An op whose
// folder is missing here is the sign: the hub sends a folder's mkdir
// before what goes in it. For such an op the live loop first handles the
// events queued and sends what it holds (as for a scan: scanmark.go), so
// that the log knows of the rename or removal.

// catchUpTimeout bounds the wait for the live loop to send what it holds:
// it may itself be waiting for the hub, which waits for this op.
const catchUpTimeout = 2 * time.Second

// folderMissing says whether the folder that holds path is missing here.
func (l *live) folderMissing(path string) bool {
	dir := wire.Parent(path)
	if l == nil || dir == "" {
		return false
	}
	_, err := l.s.tree.Lstat(dir)
	return errors.Is(err, fs.ErrNotExist)
}

// leftAway returns the folder renamed (to its new path) or removed (to
// "") here, at or above path, in a report the hub had not handled when it
// had handled this host's reports up to seen; ok is false if there is
// none.
func (l *live) leftAway(path string, seen uint64) (from, to string, ok bool) {
	if l == nil || seen == seenUnknown {
		return "", "", false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent.leftSince(seen, func(f, t string) {
		if !ok && (path == f || strings.HasPrefix(path, f+"/")) {
			from, to, ok = f, t, true
		}
	})
	return from, to, ok
}

// beforeRename settles op, planned when the hub had handled this host's
// reports up to seen, if a folder at or above its path was renamed or
// removed here since: settled is true, with op's result, when op must not
// be applied. A rename of the hub's is left to fail on its own, which
// starts the session over (hub: reconcileError).
func (a *Agent) beforeRename(ctx context.Context, s *attached, op *wire.Op, seen uint64) (res wire.OpResult, settled bool) {
	if op.Kind == wire.OpRename {
		return wire.OpResult{}, false
	}
	from, to, ok := s.live.leftAway(op.Path, seen)
	if !ok && seen != seenUnknown && s.live.folderMissing(op.Path) {
		mctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
		s.live.markScan(mctx, false)
		cancel()
		from, to, ok = s.live.leftAway(op.Path, seen)
	}
	switch {
	case !ok:
		return wire.OpResult{}, false
	case op.Kind == wire.OpMkdir:
		return a.mkdirMoved(s, op, from, to)
	case op.Path == from:
		return wire.OpResult{}, false // the folder's own removal or replacement: judged as before
	}
	msg := fmt.Sprintf("its folder %s was renamed here to %s after the hub planned this: not made at the old place", from, to)
	if to == "" {
		msg = fmt.Sprintf("its folder %s was removed here after the hub planned this: not made again for it", from)
	}
	return a.failed(s, op, &wire.Error{Kind: wire.KindChanged, Path: op.Path, Msg: msg}), true
}

// mkdirMoved settles a mkdir of op.Path, at or below the folder from that
// a user renamed to to (or removed, to ""), since the hub planned it.
func (a *Agent) mkdirMoved(s *attached, op *wire.Op, from, to string) (wire.OpResult, bool) {
	if op.Path == from || to == "" {
		a.log.Debug().Str("session", s.name).Str("path", op.Path).Str("from", from).Str("to", to).Msg("mkdir at or below a folder renamed or removed here since: done")
		return wire.OpResult{Kind: op.Kind, Path: op.Path, Entry: op.Want}, true
	}
	np, _ := wire.Moved(op.Path, from, to)
	a.log.Debug().Str("session", s.name).Str("path", op.Path).Str("at", np).Msg("mkdir in a folder renamed here since: made at its new place")
	s.live.expectChange(np, expectation{dir: true})
	if err := s.tree.Mkdir(np, op.Want.Mode); err != nil {
		return a.failed(s, op, err), true
	}
	return wire.OpResult{Kind: op.Kind, Path: op.Path, Entry: op.Want}, true
}
