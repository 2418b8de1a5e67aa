package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// applyOne applies one op to the session's root and reports the outcome.
// Every op that replaces or removes something first checks that the local
// copy is still what the hub planned from (op.Have), so a user's change made
// since the scan is never silently overwritten.
//
// A fetched file is verified and staged, not yet in place: the returned
// Staged, when not nil, decides at the tree's next Sync whether the result
// holds (results.flush syncs before it reports anything), so that many small
// files cost one syncfs rather than two fsyncs each.
func (a *Agent) applyOne(ctx context.Context, c *broker.Client, s *attached, op *wire.Op, seen uint64, progress func(int64)) (wire.OpResult, *tree.Staged) {
	if res, settled := a.beforeRename(ctx, s, op, seen); settled {
		return res, nil // renamed.go
	}
	res := wire.OpResult{Kind: op.Kind, Path: op.Path}
	var staged *tree.Staged
	var err error
	switch op.Kind {
	case wire.OpFetch:
		staged, err = a.applyFetch(ctx, c, s, op, progress, &res)
	case wire.OpMkdir:
		// Not refused like a fetch of a path removed here lately: a
		// folder's lag would leave out of a catch-up everything below it
		// (make chaos, seed 5122), and an empty folder costs nothing.
		s.live.expectChange(op.Path, expectation{dir: true})
		err = s.tree.Mkdir(op.Path, op.Want.Mode)
		res.Entry = op.Want
	case wire.OpMeta:
		if err = a.checkHave(s, op.Path, op.Have); err == nil {
			s.live.expectChange(op.Path, expectation{dir: op.Want.Kind == wire.KindDir, entry: op.Want, mode: true})
			err = s.tree.SetMeta(op.Path, op.Want.Mtime, op.Want.Mode)
		} else if a.already(s, op, err) {
			err = nil
		}
		res.Entry = op.Want
	case wire.OpDelete:
		err = a.applyDelete(s, op, seen)
	case wire.OpRename:
		err = a.applyRename(s, op, seen)
		res.Entry = op.Want
	default:
		err = &wire.Error{Kind: wire.KindInvalid, Msg: fmt.Sprintf("unknown op %d", op.Kind)}
	}
	if err != nil {
		res.Entry = wire.Entry{}
		res.Bytes = 0
		res.Error = wire.ToError(op.Kind.String(), a.cfg.Name, op.Path, err)
		a.log.Warn().Str("session", s.name).Str("path", op.Path).Str("op", op.Kind.String()).Err(err).Msg("apply failed")
		staged = nil
	}
	return res, staged
}

// applyFetch replaces op.Path's copy with op.Want, fetched from op.From,
// filling res's entry and byte counts. The copy being replaced is kept
// first; a failed fetch leaves a redundant protected copy, never a lost one.
func (a *Agent) applyFetch(ctx context.Context, c *broker.Client, s *attached, op *wire.Op, progress func(int64), res *wire.OpResult) (*tree.Staged, error) {
	if err := a.checkHave(s, op.Path, op.Have); err != nil {
		if a.already(s, op, err) {
			res.Entry = op.Want
			return nil, nil
		}
		return nil, err
	}
	if err := s.live.refuseRemoved(op.Path, op.Have); err != nil {
		return nil, err
	}
	if op.Inline == nil {
		// A full disk is found before the transfer, not after it
		// crossed the WAN (and again on every repair).
		if err := s.tree.Room(op.Path, op.Want.Size); err != nil {
			return nil, err
		}
	}
	if op.Have != nil {
		// Refused before any byte moves; the tree asks again right
		// before its rename (GuardReplace), for a writer that opens
		// it meanwhile.
		if err := s.live.refuseOpen(op.Path, op.Have); err != nil {
			return nil, err
		}
		if err := s.protect.keep(op.Path); err != nil {
			return nil, err
		}
	}
	s.live.expectChange(op.Path, expectation{entry: op.Want, mode: true})
	var onWire atomic.Int64
	var staged *tree.Staged
	var err error
	if s.live != nil && s.live.locker.Locked(op.Path) {
		// A writer elsewhere closed the file: its new content replaces
		// the locked copy, which leaves the lock released.
		err = s.live.locker.Replace(op.Path, func() error {
			var err error
			res.Entry, _, err = a.fetch(ctx, c, s, op, progress, false, &onWire)
			return err
		})
	} else {
		res.Entry, staged, err = a.fetch(ctx, c, s, op, progress, true, &onWire)
	}
	res.Bytes, res.Wire = op.Want.Size, onWire.Load()
	if err == nil {
		a.metrics.Received(s.name, res.Bytes, res.Wire)
	}
	return staged, err
}

// applyDelete removes op.Path, unless it changed since the hub planned
// it; what a user made in a folder since the hub's seen stays.
func (a *Agent) applyDelete(s *attached, op *wire.Op, seen uint64) error {
	err := a.checkHave(s, op.Path, op.Have)
	if err == nil {
		err = s.live.refuseOpen(op.Path, op.Have)
	}
	if err != nil {
		if a.already(s, op, err) {
			return nil
		}
		return err
	}
	if keep := s.live.madeIn(op.Path, seen, op.Have); len(keep) > 0 {
		return a.removeAllBut(s, op.Path, keep) // moved.go
	}
	// What was expected below a folder deleted is stale now.
	s.live.forgetExpected(op.Path, op.Have != nil && op.Have.Kind == wire.KindDir)
	s.live.expectChange(op.Path, expectation{gone: true})
	return a.remove(s, op.Path)
}

// applyRename moves op.OldPath to op.Path; a folder's locks and the live
// loop's view of it follow.
func (a *Agent) applyRename(s *attached, op *wire.Op, seen uint64) error {
	// What was expected below a folder moved away is stale now (make
	// chaos, seed 3576: a user's folder made at the old path taken for
	// the echo of the hub's earlier mkdir there).
	s.live.forgetExpected(op.OldPath, op.Want.Kind == wire.KindDir)
	s.live.expectChange(op.OldPath, expectation{gone: true})
	s.live.expectChange(op.Path, expectation{dir: op.Want.Kind == wire.KindDir, entry: op.Want})
	done := func(error) {}
	if op.Want.Kind == wire.KindDir {
		done = s.live.renaming(op.OldPath, op.Path)
	}
	err := s.tree.Rename(op.OldPath, op.Path)
	done(err)
	if err == nil && s.live != nil && op.Want.Kind == wire.KindDir {
		err = s.live.locker.Moved(op.OldPath, op.Path)
		s.live.movedByHub(op.OldPath, op.Path, seen)
	}
	return err
}

// remove deletes path, or moves it to the protected area.
func (a *Agent) remove(s *attached, path string) error {
	if s.protect != nil {
		return s.protect.move(path)
	}
	return s.tree.Remove(path)
}

// already reports whether op, which checkHave refused with err, has
// nothing left to do: path here is exactly what op wants (a file with the
// wanted content, time and mode, a folder with the wanted time and mode;
// nothing, for a delete). The hub plans from its index, which can be
// behind what it had this host apply (a result it never heard of, a change
// reported twice): refusing such an op as a concurrent edit would put the
// hub's own copy in the File Conflict List (issue 17). A locked copy a
// fetch wants as it is is released, as the fetch would have released it;
// a mode set by nothing but the lock is the recorded one again then.
func (a *Agent) already(s *attached, op *wire.Op, err error) bool {
	info, lerr := s.tree.Lstat(op.Path)
	if op.Kind == wire.OpDelete {
		return errors.Is(err, fs.ErrNotExist) && errors.Is(lerr, fs.ErrNotExist)
	}
	var we *wire.Error
	w := op.Want
	if !errors.As(err, &we) || we.Kind != wire.KindChanged || (op.Kind != wire.OpFetch && op.Kind != wire.OpMeta) ||
		lerr != nil || info.Kind != w.Kind || info.Mtime != w.Mtime || w.Kind == wire.KindFile && info.Size != w.Size {
		return false
	}
	if w.Kind == wire.KindFile {
		if h, err := a.contentHash(s, op.Path, info); err != nil || h != w.Hash {
			return false
		}
	}
	if s.live != nil && s.live.locker.Locked(op.Path) {
		if op.Kind != wire.OpFetch || s.live.locker.Unlock(op.Path) != nil {
			return false
		}
		if info, lerr = s.tree.Lstat(op.Path); lerr != nil {
			return false
		}
	}
	if info.Mode != w.Mode {
		s.live.expectChange(op.Path, expectation{dir: w.Kind == wire.KindDir, entry: w, mode: true})
		if s.tree.SetMeta(op.Path, w.Mtime, w.Mode) != nil {
			return false
		}
	}
	a.log.Debug().Str("session", s.name).Str("path", op.Path).Str("op", op.Kind.String()).Msg("already as wanted")
	return true
}

// contentHash returns the hash of the file at path, whose state is info:
// the scan cache's when it describes that very state, else read.
func (a *Agent) contentHash(s *attached, path string, info tree.Info) (wire.Hash, error) {
	if c, ok := a.db.Cached(s.name, path); ok && c.Size == info.Size && c.Mtime == info.Mtime && c.Ctime == info.Ctime && c.Ino == info.Ino {
		return c.Hash, nil
	}
	return hashFile(s.tree, path)
}

// checkHave verifies the local copy of path is still the one the hub saw.
func (a *Agent) checkHave(s *attached, path string, have *wire.Entry) error {
	info, err := s.tree.Lstat(path)
	if have == nil {
		if err == nil {
			return &wire.Error{Kind: wire.KindChanged, Msg: "appeared since the scan"}
		}
		return nil
	}
	if err != nil {
		return err
	}
	if info.Kind != have.Kind || (have.Kind == wire.KindFile && (info.Size != have.Size || info.Mtime != have.Mtime)) {
		return &wire.Error{Kind: wire.KindChanged, Msg: "changed since the scan"}
	}
	return nil
}
