package conflict

import (
	"fmt"

	"github.com/peerlink/peerlink/wire"
)

// Repairs of lagging hosts. A live op that failed on a host (a target
// busy, a link cut mid-transfer) leaves that host's copy behind the
// index. The hub retries with backoff; each retry looks at the host's copy
// now and decides, from it, the copy the failed op left there and the
// index's record, what to do.

// RepairKind is what a lagging copy's retry comes to.
type RepairKind int

const (
	// RepairCaughtUp: the copy is already the index's version (or absent
	// as the index says): nothing to do but record it.
	RepairCaughtUp RepairKind = iota
	// RepairApply: the copy is still what the failed op left; Op brings it
	// to the index's version.
	RepairApply
	// RepairConflict: a user changed (or deleted) the copy while the hub's
	// change was on its way: quarantined with Copies, Why says how.
	RepairConflict
)

func (k RepairKind) String() string {
	switch k {
	case RepairCaughtUp:
		return "caught-up"
	case RepairApply:
		return "apply"
	case RepairConflict:
		return "conflict"
	}
	return fmt.Sprintf("repair(%d)", int(k))
}

// RepairDecision is how one retry of a lagging copy settles it.
type RepairDecision struct {
	Kind   RepairKind
	Op     wire.Op
	Copies []Copy
	Reason Reason
	Why    string
}

// Repair decides a retry for host's copy cur of p (nil: none), which the
// failed op left as have; the index holds rec (if had), which host ref
// holds.
func Repair(p, host, ref string, cur, have *wire.Entry, rec Record, had bool) RepairDecision {
	switch {
	case had && SameVersion(cur, &rec.Entry), !had && cur == nil:
		return RepairDecision{Kind: RepairCaughtUp}
	case !SameVersion(cur, have):
		why, copies := lagConflict(host, cur, ref, rec, had)
		return RepairDecision{Kind: RepairConflict, Copies: copies, Reason: ReasonConcurrentEdit, Why: why}
	}
	return RepairDecision{Kind: RepairApply, Op: repairOp(p, ref, rec, had, cur)}
}

// SameVersion reports whether a and b are the same version of a path: both
// absent, or the same kind and, for a file, the same content and
// modification time (what a target checks an op's Have against). A file
// without a hash (not hashed yet) matches on size and time.
func SameVersion(a, b *wire.Entry) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.Kind != b.Kind {
		return false
	}
	return a.Kind == wire.KindDir || a.Size == b.Size && a.Mtime == b.Mtime && (a.Hash == b.Hash || a.Hash.IsZero() || b.Hash.IsZero())
}

// lagConflict is the File Conflict List's detail and copies for a lagging
// copy cur on host that a user changed (or deleted, if nil) meanwhile;
// ref holds the index's version rec, if had.
func lagConflict(host string, cur *wire.Entry, ref string, rec Record, had bool) (string, []Copy) {
	var copies []Copy
	what := "deleted"
	if cur != nil {
		what = "changed"
		copies = append(copies, Copy{Host: host, Entry: *cur})
	}
	if !had {
		return fmt.Sprintf("%s on %s while its removal elsewhere was being applied", what, host), copies
	}
	copies = append(copies, Copy{Host: ref, Entry: rec.Entry})
	return fmt.Sprintf("%s on %s while %s's version was being applied", what, host, ref), copies
}

// repairOp is the op that turns cur, host's copy of p, into the record's
// version (or removes it, if the index no longer has p).
func repairOp(p, ref string, rec Record, had bool, cur *wire.Entry) wire.Op {
	switch {
	case !had:
		return wire.Op{Kind: wire.OpDelete, Path: p, Have: cur}
	case rec.Entry.Kind == wire.KindDir && cur == nil:
		return wire.Op{Kind: wire.OpMkdir, Path: p, Want: rec.Entry}
	case rec.Entry.Kind == wire.KindDir || cur != nil && sameContent(cur, &rec.Entry):
		return wire.Op{Kind: wire.OpMeta, Path: p, Want: rec.Entry, Have: cur}
	}
	return wire.Op{Kind: wire.OpFetch, Path: p, From: ref, Want: rec.Entry, Have: cur}
}
