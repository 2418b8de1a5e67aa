package conflict

import (
	"slices"

	"github.com/peerlink/peerlink/wire"
)

// rename is a folder renamed or moved on one host while the session was
// stopped (the seed's "Offline Folder Rename Detection").
type rename struct {
	host     int // where it was renamed
	old, new int // rows of the old and the new folder
	oldEnd   int // first row after the old folder's subtree
	newEnd   int // first row after the new folder's subtree
}

type renameCand struct {
	sum      uint64
	row, end int
}

// detectRenames finds offline folder renames and rewrites the other hosts'
// cells as they will be once each has renamed its copy, so that the rest of
// the engine sees the moved tree in place. The rule is deliberately narrow;
// a folder that does not meet every condition is handled as a deletion plus
// a new folder, which loses nothing. On host H, old folder O and new folder
// N are one rename when:
//
//   - O has a record listing H, H has no O now, and H has O's parent folder
//     (O is the topmost folder that disappeared);
//   - N is a folder on H only, no record exists for N or anything below it,
//     and N's parent is a folder on every host (renames run first, so
//     nothing can create it before them);
//   - the tree H had under O (records listing H: relative names, kinds,
//     sizes and hashes; at least one file) equals H's tree under N, and no
//     other disappeared or new folder on H has that same tree;
//   - every other host holds exactly that tree under O, unchanged since the
//     record (content and modification time);
//   - nothing in, above or below O and N is quarantined, held, malformed
//     or part of a name clash, and no other rename touches either subtree.
//
// Each other host then gets one OpRename from O to N.
func (e *engine) detectRenames() {
	if !e.opt.OfflineRenameDetection {
		return
	}
	var found []rename
	for h := range e.nh() {
		found = append(found, e.renamesOn(h)...)
	}
	found = e.disjoint(found)
	for _, rn := range found {
		e.applyRename(rn)
	}
	e.renames = found
}

func (e *engine) renamesOn(h int) []rename {
	var olds, news []renameCand
	for r := 0; r < len(e.rows); {
		switch {
		case e.oldCandidate(r, h):
			end := e.subtreeEnd(r)
			if sum, ok := e.oldSig(r, end, h); ok {
				olds = append(olds, renameCand{sum, r, end})
			}
			r = end
		case e.newCandidate(r, h):
			end := e.subtreeEnd(r)
			if sum, ok := e.newSig(r, end, h); ok {
				news = append(news, renameCand{sum, r, end})
			}
			r = end
		default:
			r++
		}
	}
	bySum := func(a, b renameCand) int {
		if a.sum != b.sum {
			if a.sum < b.sum {
				return -1
			}
			return 1
		}
		return a.row - b.row
	}
	slices.SortFunc(olds, bySum)
	slices.SortFunc(news, bySum)
	var out []rename
	for i, j := 0, 0; i < len(olds) && j < len(news); {
		switch o, n := olds[i], news[j]; {
		case o.sum < n.sum:
			i++
		case o.sum > n.sum:
			j++
		default:
			uniqueO := (i+1 == len(olds) || olds[i+1].sum != o.sum) && (i == 0 || olds[i-1].sum != o.sum)
			uniqueN := (j+1 == len(news) || news[j+1].sum != n.sum) && (j == 0 || news[j-1].sum != n.sum)
			rn := rename{host: h, old: o.row, oldEnd: o.end, new: n.row, newEnd: n.end}
			if uniqueO && uniqueN && e.sameTree(rn) && e.othersKeptOld(rn) {
				out = append(out, rn)
			}
			i++
			j++
		}
	}
	return out
}

func (e *engine) subtreeEnd(r int) int {
	p := e.rows[r].path
	i := r + 1
	for i < len(e.rows) && isAncestor(p, e.rows[i].path) {
		i++
	}
	return i
}

const renameBlock = fBad | fQuarantineIn | fHeld | fClash

// blockedAbove reports whether r or a folder above it is quarantined,
// malformed or in a name clash.
func (e *engine) blockedAbove(r int) bool {
	for p := r; p >= 0; p = int(e.rows[p].parent) {
		if e.rows[p].flags&renameBlock != 0 {
			return true
		}
	}
	return false
}

func (e *engine) listedOn(rec *Record, h int) bool {
	return rec != nil && slices.Contains(rec.Hosts, e.hosts[h])
}

func (e *engine) oldCandidate(r, h int) bool {
	row := &e.rows[r]
	if row.rec == nil || row.rec.Entry.Kind != wire.KindDir || e.cell(r, h) != nil || !e.listedOn(row.rec, h) {
		return false
	}
	if row.parent >= 0 && !e.isDir(int(row.parent), h) {
		return false
	}
	return !e.blockedAbove(r)
}

func (e *engine) newCandidate(r, h int) bool {
	row := &e.rows[r]
	if row.rec != nil || !e.isDir(r, h) || e.present(r) != 1 {
		return false
	}
	if row.parent >= 0 {
		for g := range e.nh() {
			if !e.isDir(int(row.parent), g) {
				return false
			}
		}
	}
	return !e.blockedAbove(r)
}

// oldSig hashes the tree host h had under row r, from the records.
func (e *engine) oldSig(r, end, h int) (uint64, bool) {
	sum, files := uint64(14695981039346656037), 0
	base := len(e.rows[r].path)
	for i := r; i < end; i++ {
		row := &e.rows[i]
		if row.flags&renameBlock != 0 {
			return 0, false
		}
		if e.listedOn(row.rec, h) {
			sum = sigAdd(sum, row.path[base:], &row.rec.Entry)
			if row.rec.Entry.Kind == wire.KindFile {
				files++
			}
		}
	}
	return sum, files > 0
}

// newSig hashes host h's tree under row r, which must be new on h alone.
func (e *engine) newSig(r, end, h int) (uint64, bool) {
	sum, files := uint64(14695981039346656037), 0
	base := len(e.rows[r].path)
	for i := r; i < end; i++ {
		row := &e.rows[i]
		if row.flags&renameBlock != 0 || row.rec != nil || e.present(i) > 1 {
			return 0, false
		}
		if c := e.cell(i, h); c != nil {
			sum = sigAdd(sum, row.path[base:], c)
			if c.Kind == wire.KindFile {
				files++
			}
		}
	}
	return sum, files > 0
}

func sigAdd(sum uint64, rel string, ent *wire.Entry) uint64 {
	mix := func(b byte) { sum = (sum ^ uint64(b)) * 1099511628211 }
	for i := 0; i < len(rel); i++ {
		mix(rel[i])
	}
	mix(0)
	mix(byte(ent.Kind))
	for i := range 8 {
		mix(byte(ent.Size >> (8 * i)))
	}
	for _, b := range ent.Hash {
		mix(b)
	}
	return sum
}
