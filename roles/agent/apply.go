package agent

import (
	"context"
	"fmt"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/sync/xfer"
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
func (a *Agent) applyOne(ctx context.Context, c *broker.Client, s *attached, op *wire.Op, progress func(int64)) (wire.OpResult, *tree.Staged) {
	res := wire.OpResult{Kind: op.Kind, Path: op.Path}
	var staged *tree.Staged
	var err error
	switch op.Kind {
	case wire.OpFetch:
		// The copy being replaced is kept first; a failed fetch leaves a
		// redundant protected copy, never a lost one.
		if op.Have != nil {
			if err = a.checkHave(s, op.Path, op.Have); err == nil {
				err = s.protect.keep(op.Path)
			}
			if err != nil {
				break
			}
		}
		s.live.expectChange(op.Path, expectation{entry: op.Want})
		if s.live != nil && s.live.locker.Locked(op.Path) {
			// A writer elsewhere closed the file: its new content replaces
			// the locked copy, which leaves the lock released.
			err = s.live.locker.Replace(op.Path, func() error {
				var err error
				res.Entry, err = xfer.Fetch(ctx, source{c}, s.tree, s.name, op, progress)
				return err
			})
		} else {
			res.Entry, staged, err = xfer.FetchStaged(ctx, source{c}, s.tree, s.name, op, progress)
		}
		res.Bytes = op.Want.Size
	case wire.OpMkdir:
		s.live.expectChange(op.Path, expectation{dir: true})
		err = s.tree.Mkdir(op.Path, op.Want.Mode)
		res.Entry = op.Want
	case wire.OpMeta:
		if err = a.checkHave(s, op.Path, op.Have); err == nil {
			s.live.expectChange(op.Path, expectation{dir: op.Want.Kind == wire.KindDir, entry: op.Want})
			err = s.tree.SetMeta(op.Path, op.Want.Mtime, op.Want.Mode)
		}
		res.Entry = op.Want
	case wire.OpDelete:
		if err = a.checkHave(s, op.Path, op.Have); err == nil {
			s.live.expectChange(op.Path, expectation{gone: true})
			if s.protect != nil {
				err = s.protect.move(op.Path)
			} else {
				err = s.tree.Remove(op.Path)
			}
		}
	case wire.OpRename:
		s.live.expectChange(op.OldPath, expectation{gone: true})
		s.live.expectChange(op.Path, expectation{dir: op.Want.Kind == wire.KindDir, entry: op.Want})
		err = s.tree.Rename(op.OldPath, op.Path)
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
