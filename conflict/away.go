package conflict

import (
	"slices"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// Unchanged reports whether copy c is still the version rec, as the
// engine judges offline changes: the same kind and, for a file, the same
// content and modification time (in whole seconds with TruncateMs).
func Unchanged(c, rec wire.Entry, opt Options) bool {
	e := engine{opt: opt}
	return e.unchanged(&c, &rec)
}

// AwayDeletes settles, for a host returning to a running session, the
// paths the live hosts deleted while it was away. deleted holds, by path,
// the version the host held of each path deleted since it left; scan is
// the host's scan. A path the host still holds unchanged, with everything
// below it, is deleted there too: a deletion made while the session ran
// is no offline deletion, and needs no option to propagate. One OpDelete
// goes to the highest such path of a subtree (children-first order among
// the ops). Everything else (a copy the host changed, or a folder holding
// something changed or new) is left to Resolve, which judges it as an
// offline delete against an edit, by the session's rules. settled are the
// paths the ops cover: they are left out of Resolve's input.
func AwayDeletes(scan []wire.Entry, deleted map[string]wire.Entry, opt Options) (ops []wire.Op, settled map[string]bool) {
	if len(deleted) == 0 {
		return nil, nil
	}
	// keep: what must stay on the host, and so its folders too.
	keep := map[string]bool{}
	cand := map[string]wire.Entry{}
	for _, c := range scan {
		base, ok := deleted[c.Path]
		if ok && Unchanged(c, base, opt) {
			cand[c.Path] = c
			continue
		}
		for p := c.Path; ; {
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
			if keep[p] {
				break
			}
			keep[p] = true
		}
	}
	settled = map[string]bool{}
	for p := range cand {
		if !keep[p] {
			settled[p] = true
		}
	}
	for p := range settled {
		top := true
		for q := p; ; {
			i := strings.LastIndexByte(q, '/')
			if i < 0 {
				break
			}
			q = q[:i]
			if settled[q] {
				top = false
				break
			}
		}
		if top {
			have := cand[p]
			ops = append(ops, wire.Op{Kind: wire.OpDelete, Path: p, Have: &have})
		}
	}
	// Children first, and a stable order.
	slices.SortFunc(ops, func(a, b wire.Op) int { return -comparePaths(a.Path, b.Path) })
	return ops, settled
}
