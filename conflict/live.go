package conflict

import (
	"slices"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// The live half of the engine (issue 14, point 6): while a session runs,
// what one host's users did reaches the hub as a batch of changes, and
// Live decides, from the batch, what the index held at its paths and the
// hub's tables (locks, the File Conflict List, the targets that lag), the
// ops that carry each change to every other host. Like Resolve it performs
// no I/O: the hub gathers its input and carries out its plan.

// LiveInput is everything Live decides from.
type LiveInput struct {
	// Host made the changes; Targets are the hosts that take part besides
	// it (not those away), in the session's order.
	Host    string
	Targets []string
	// Batch is what Host reported, in order.
	Batch []wire.Change
	// Index holds the index's record of each path a change may be judged
	// against (LiveIndexPaths says which). A path absent has none.
	Index map[string]Record
	// Unread are paths whose record could not be read: their changes are
	// refused (LiveUnread) rather than judged against nothing.
	Unread map[string]bool
	// Folders holds the names the index lists in each folder the batch may
	// add a name to (LiveFolders says which); a folder absent is taken as
	// holding nothing.
	Folders map[string][]string
	// Below holds the index's records below each folder the batch
	// removes (LiveRemovedFolders says which), in any order: a removal
	// takes only what Host held there (live_keep.go).
	Below map[string][]Record
	// Quarantined are paths in the File Conflict List: they and what is
	// below them are left alone.
	Quarantined map[string]bool
	// Locks holds, by path, the host holding the file open for writing.
	Locks map[string]string
	// Lagging holds, by path, the hosts a failed live op left behind, each
	// with the copy it kept (nil: none).
	Lagging map[string]map[string]*wire.Entry
	// Applied are versions the hub had Host apply lately: Host reporting
	// one reports the hub's own op.
	Applied map[wire.Entry]bool
}

// LiveChange is a change Live propagates, with what the index held at the
// path it replaces (for a rename, OldPath) before the batch, or what the
// batch's earlier changes left there.
type LiveChange struct {
	Change wire.Change
	Prior  Record
	Had    bool
}

// Key returns the path c's change replaces: a rename's old path.
func (c LiveChange) Key() string { return changeKey(c.Change) }

// LiveWhy says why Live did not propagate a change of the batch.
type LiveWhy string

const (
	// LiveMerged: the change repeats or updates an earlier one of the
	// batch at the same path, which now carries it.
	LiveMerged LiveWhy = "merged"
	// LiveQuarantined: the path (or a rename's old path) is in the File
	// Conflict List.
	LiveQuarantined LiveWhy = "quarantined"
	// LiveEcho: the change repeats what the index holds (or removes what
	// it does not list): nothing to propagate.
	LiveEcho LiveWhy = "echo"
	// LiveApplied: a version the hub had the host apply, reported late.
	LiveApplied LiveWhy = "applied"
	// LiveSecondWriter: another host holds the file open for writing; the
	// host is a second writer, which the lock's close settles.
	LiveSecondWriter LiveWhy = "second-writer"
	// LiveLagging: the host's own copy lags (a live op failed there), so
	// its change was made to an old version: the repair judges it.
	LiveLagging LiveWhy = "lagging"
	// LiveNameClash: a new name that differs from a sibling's only in case
	// or Unicode form; it is quarantined (LivePlan.Quarantines).
	LiveNameClash LiveWhy = "name-clash"
	// LiveUnread: the index record of the path could not be read.
	LiveUnread LiveWhy = "index-unread"
	// LiveKeptBelow: a folder's removal that would take content the host
	// did not hold; what it held below the folder is removed instead
	// (live_keep.go).
	LiveKeptBelow LiveWhy = "kept-below"
)

// LiveRefusal is a change of the batch that Live did not propagate.
type LiveRefusal struct {
	Change wire.Change
	Why    LiveWhy
}

// LivePlan is what the hub carries out for one batch.
type LivePlan struct {
	// Done are the changes propagated, in order.
	Done []LiveChange
	// Ops are, by target, the ops that carry Done there, in Done's order.
	// A target with nothing to do is absent.
	Ops map[string][]wire.Op
	// Quarantines are the name clashes the batch brought, for the File
	// Conflict List, in batch order.
	Quarantines []Quarantine
	// Refused are the changes not propagated, in batch order, with why.
	Refused []LiveRefusal
}

// Live decides one batch: each change is judged against what the changes
// before it in the batch leave at its path (see batchPaths), the index
// being that only for the paths the batch has not touched yet.
func Live(in LiveInput) LivePlan {
	d := &liveDecider{
		in:   &in,
		seen: batchPaths{},
		quar: map[string]bool{},
	}
	d.names = newLiveNames(d, in.Folders)
	for p := range in.Quarantined {
		d.quar[p] = true
	}
	p := LivePlan{Ops: map[string][]wire.Op{}}
	batch, kept := keepBelow(&in)
	for _, ch := range kept {
		p.Refused = append(p.Refused, LiveRefusal{Change: ch, Why: LiveKeptBelow})
	}
	for _, ch := range batch {
		a, why := d.judge(ch)
		if why != "" {
			p.Refused = append(p.Refused, LiveRefusal{Change: ch, Why: why})
			continue
		}
		d.names.follow(ch)
		d.seen.note(len(d.done), ch)
		d.done = append(d.done, a)
	}
	for _, a := range d.done {
		for _, t := range in.Targets {
			if op, ok := liveOp(in.Host, a, d.targetHas(a, t)); ok {
				p.Ops[t] = append(p.Ops[t], op)
			}
		}
	}
	p.Done = d.done
	p.Quarantines = d.clashes
	return p
}

// liveDecider is one batch's decision under way.
type liveDecider struct {
	in      *LiveInput
	done    []LiveChange
	seen    batchPaths
	names   *liveNames
	quar    map[string]bool // the File Conflict List, with the batch's clashes
	clashes []Quarantine
}

// judge decides ch: it returns it with what it replaces, or why it is not
// propagated.
func (d *liveDecider) judge(ch wire.Change) (LiveChange, LiveWhy) {
	key := changeKey(ch)
	st, touched := d.seen[key]
	if touched && d.seen.follow(d.done, st, ch) {
		return LiveChange{}, LiveMerged
	}
	if UnderAny(ch.Path, d.quar) || (ch.Kind == wire.ChangeRename && UnderAny(ch.OldPath, d.quar)) {
		return LiveChange{}, LiveQuarantined
	}
	var prior Record
	var had bool
	switch {
	case touched:
		// Every target is to hold what the batch left there.
		had = !st.gone
		if had {
			prior = Record{Entry: st.entry, Hosts: append([]string{d.in.Host}, d.in.Targets...)}
		}
	default:
		at, ok := indexPath(d.done, key)
		if !ok {
			break // removed or moved away earlier in the batch
		}
		if d.in.Unread[at] {
			return LiveChange{}, LiveUnread
		}
		prior, had = d.in.Index[at]
		if had && at != key {
			prior.Entry.Path = key // moved with its folder
		}
	}
	if echo(ch, prior, had) {
		return LiveChange{}, LiveEcho
	}
	if ch.Kind != wire.ChangeRemove && ch.Kind != wire.ChangeRename && d.in.Applied[ch.Entry] {
		return LiveChange{}, LiveApplied
	}
	if src, ok := d.in.Locks[ch.Path]; ok && src != d.in.Host {
		return LiveChange{}, LiveSecondWriter
	}
	if _, ok := d.in.Lagging[key][d.in.Host]; ok {
		return LiveChange{}, LiveLagging
	}
	a := LiveChange{Change: ch, Prior: prior, Had: had}
	if q, ok := d.names.clash(d.in.Host, a); ok {
		d.quar[q.Path] = true
		d.clashes = append(d.clashes, q)
		return LiveChange{}, LiveNameClash
	}
	return a, ""
}

// targetHas returns what target holds of the path a's change replaces:
// what the index lists it with, or, if it lags there, what it kept.
func (d *liveDecider) targetHas(a LiveChange, target string) *wire.Entry {
	if have, ok := d.in.Lagging[a.Key()][target]; ok {
		return have
	}
	if a.Had && slices.Contains(a.Prior.Hosts, target) {
		e := a.Prior.Entry
		return &e
	}
	return nil
}

// liveOp returns the op that carries a's change from host to a target
// that holds have, if the target needs one.
func liveOp(host string, a LiveChange, have *wire.Entry) (wire.Op, bool) {
	ch := a.Change
	switch ch.Kind {
	case wire.ChangeWrite:
		return wire.Op{Kind: wire.OpFetch, Path: ch.Path, From: host, Want: ch.Entry, Have: have}, true
	case wire.ChangeMkdir:
		return wire.Op{Kind: wire.OpMkdir, Path: ch.Path, Want: ch.Entry}, true
	case wire.ChangeMeta:
		return wire.Op{Kind: wire.OpMeta, Path: ch.Path, Want: ch.Entry, Have: have}, true
	case wire.ChangeRemove:
		if have == nil {
			return wire.Op{}, false
		}
		return wire.Op{Kind: wire.OpDelete, Path: ch.Path, Have: have}, true
	case wire.ChangeRename:
		switch {
		case have != nil:
			return wire.Op{Kind: wire.OpRename, Path: ch.Path, OldPath: ch.OldPath, Want: ch.Entry, Have: have}, true
		case ch.Entry.Kind == wire.KindDir:
			// Nothing there to move: the moved path arrives whole.
			return wire.Op{Kind: wire.OpMkdir, Path: ch.Path, Want: ch.Entry}, true
		default:
			return wire.Op{Kind: wire.OpFetch, Path: ch.Path, From: host, Want: ch.Entry}, true
		}
	}
	return wire.Op{}, false // a kind this hub does not know: nothing sent
}

// echo reports a change that only repeats what the index already holds:
// a target reporting the op the hub had it apply, or a touch that changed
// nothing. Propagating it would bounce between hosts.
func echo(ch wire.Change, prior Record, had bool) bool {
	switch ch.Kind {
	case wire.ChangeRemove:
		return !had
	case wire.ChangeRename:
		return false
	default:
		return had && prior.Entry == ch.Entry
	}
}

// changeKey returns the path ch replaces: a rename's old path.
func changeKey(ch wire.Change) string {
	if ch.Kind == wire.ChangeRename {
		return ch.OldPath
	}
	return ch.Path
}

// UnderAny reports whether p or one of its parent folders is in set.
func UnderAny(p string, set map[string]bool) bool {
	for {
		if set[p] {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}
