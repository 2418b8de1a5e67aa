package conflict

import (
	"github.com/peerlink/peerlink/wire"
)

// hstate is what happened to one host's copy of a path since the last run,
// judged against the path's record in the last index.
type hstate uint8

const (
	sAbsent    hstate = iota // no copy, and the record does not list the host
	sDeleted                 // no copy, but the record lists the host: deleted offline
	sNew                     // a copy the record does not account for
	sUnchanged               // the record's kind, content and modification time
	sChanged                 // a listed host's copy that differs from the record: changed offline
)

// mtime is a modification time as the resolver compares it.
func (e *engine) mtime(ns int64) int64 {
	if e.opt.TruncateMs {
		return wholeSeconds(ns)
	}
	return ns
}

// unchanged reports whether c is still what the record says: the same kind
// and, for a file, the same content and modification time. Mode is not
// compared: a mode change alone is not an edit (see winner).
func (e *engine) unchanged(c, rec *wire.Entry) bool {
	if !sameContent(c, rec) {
		return false
	}
	return c.Kind == wire.KindDir || e.mtime(c.Mtime) == e.mtime(rec.Mtime)
}

// classify fills e.state for row r.
func (e *engine) classify(r int) {
	rec := e.rows[r].rec
	for h := range e.nh() {
		c, listed := e.cell(r, h), e.listedOn(rec, h)
		switch {
		case c == nil && listed:
			e.state[h] = sDeleted
		case c == nil:
			e.state[h] = sAbsent
		case rec == nil:
			e.state[h] = sNew
		case e.unchanged(c, &rec.Entry):
			e.state[h] = sUnchanged
		case listed:
			e.state[h] = sChanged
		default:
			e.state[h] = sNew
		}
	}
}

// decideAll settles every row in tree order, then lets what survives below
// a folder keep the folder.
func (e *engine) decideAll() {
	for r := range e.rows {
		f := e.decide(r)
		if e.writing != nil && (f == fateKeep || f == fateDelete) {
			f = e.openConflict(r, f)
		}
		e.rows[r].fate = f
	}
	e.keepAncestors()
}

// decide applies the rules to one row, first match wins:
//
//  1. below a quarantine, malformed, or quarantined before: left alone;
//     held (Input.Held): left alone, but not what is below it;
//  2. held by no host: nothing to do;
//  3. a name clash member not every host holds: ReasonNameClash;
//  4. a file on one host and a folder on another: ReasonKindMismatch;
//  5. deleted offline on the delete master, which held it at the last run:
//     deleted everywhere, "regardless of the current last modification
//     times" (seed, Delete Detection Master Host);
//  6. Quarantine Offline Version Conflicts, and changed offline on two or
//     more hosts to different contents: ReasonOfflineEdit;
//  7. Offline Delete Detection without a master, deleted offline on some
//     host: deleted everywhere if every remaining copy is unchanged; if
//     another host changed it (or holds a copy the record does not
//     account for), the edit wins and the path is brought back, unless
//     Quarantine Offline Version Conflicts is on: then ReasonDeleteEdit;
//  8. Manual resolver and files whose contents differ: ReasonManual;
//  9. Last Modified Time Wins between edits whose times are closer than
//     the skew of the clocks that stamped them: ReasonClockSkew (clockSkew);
//  10. otherwise every host ends with the winner's copy (see winner).
//
// decideAll then quarantines a kept or deleted file that is open for
// writing where the plan would replace or remove it (openConflict).
func (e *engine) decide(r int) fate {
	row := &e.rows[r]
	if row.parent >= 0 {
		if f := e.rows[row.parent].fate; f == fateFrozen || f == fateQuarantine {
			return fateFrozen
		}
	}
	n := e.present(r)
	if row.flags&(fBad|fQuarantineIn) != 0 {
		return fateFrozen
	}
	if row.flags&fHeld != 0 {
		return fateHeld // not inherited: its subtree is decided below
	}
	if n == 0 {
		return fateNone
	}
	if row.flags&fClashQ != 0 {
		return e.quarantine(r, ReasonNameClash, "differs only in case or Unicode form from "+e.clashOthers(r)+
			"; a case-insensitive host could overwrite one with the other")
	}
	if e.mixedKinds(r) {
		return e.quarantine(r, ReasonKindMismatch, e.kindDetail(r))
	}
	e.classify(r)
	deleted, edited := e.count(sDeleted), e.count(sChanged)+e.count(sNew) > 0
	if e.masterMode && e.master >= 0 && e.state[e.master] == sDeleted {
		return fateDelete
	}
	if e.opt.QuarantineOfflineConflicts && e.offlineConflict(r) {
		return e.quarantine(r, ReasonOfflineEdit, e.hostsIn(sChanged)+" changed it while the session was stopped")
	}
	if e.opt.OfflineDeleteDetection && !e.masterMode && deleted > 0 {
		switch {
		case !edited:
			return fateDelete
		case e.opt.QuarantineOfflineConflicts:
			return e.quarantine(r, ReasonDeleteEdit, e.hostsIn(sDeleted)+" deleted it and "+
				e.hostsIn(sChanged, sNew)+" changed it while the session was stopped")
		}
	}
	if e.opt.Resolver == Manual && e.contentsDiffer(r) {
		return e.quarantine(r, ReasonManual, "copies differ and the resolver is manual")
	}
	if detail, ok := e.clockSkew(r); ok {
		return e.quarantine(r, ReasonClockSkew, detail)
	}
	return fateKeep
}

func (e *engine) count(s hstate) int {
	n := 0
	for _, x := range e.state {
		if x == s {
			n++
		}
	}
	return n
}

func (e *engine) mixedKinds(r int) bool {
	var kind wire.EntryKind
	for h := range e.nh() {
		if c := e.cell(r, h); c != nil {
			if kind != 0 && c.Kind != kind {
				return true
			}
			kind = c.Kind
		}
	}
	return false
}

// offlineConflict: files changed offline on two or more hosts, to
// different contents (the same new content on two hosts is no conflict).
func (e *engine) offlineConflict(r int) bool {
	var first *wire.Entry
	for h, s := range e.state {
		if s != sChanged {
			continue
		}
		c := e.cell(r, h)
		if c.Kind != wire.KindFile {
			return false
		}
		if first == nil {
			first = c
		} else if !sameContent(first, c) {
			return true
		}
	}
	return false
}

func (e *engine) contentsDiffer(r int) bool {
	var first *wire.Entry
	for h := range e.nh() {
		c := e.cell(r, h)
		if c == nil || c.Kind != wire.KindFile {
			continue
		}
		if first == nil {
			first = c
		} else if !sameContent(first, c) {
			return true
		}
	}
	return false
}

// keepAncestors runs bottom-up (rows in reverse tree order): a folder that
// was to be deleted but holds something that stays (kept, or quarantined
// and held somewhere) is kept instead, so an edit or a new file inside a
// folder deleted offline survives, with its folder brought back where it
// was deleted. A folder to delete therefore never holds anything that is
// not deleted too, and deleting it is one op.
func (e *engine) keepAncestors() {
	for r := len(e.rows) - 1; r >= 0; r-- {
		row := &e.rows[r]
		if row.fate == fateDelete && row.flags&fKeepChild != 0 {
			row.fate = fateKeep
		}
		survives := row.fate == fateKeep || row.flags&fKeepChild != 0 ||
			(row.fate == fateQuarantine || row.fate == fateFrozen || row.fate == fateHeld) && e.present(r) > 0
		if survives && row.parent >= 0 {
			e.rows[row.parent].flags |= fKeepChild
		}
	}
}
