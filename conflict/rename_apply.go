package conflict

import (
	"slices"

	"github.com/peerlink/peerlink/wire"
)

// sameTree checks, entry by entry, what the signatures only hashed: the
// tree the renaming host had under the old folder is its tree under the new.
func (e *engine) sameTree(rn rename) bool {
	h := rn.host
	oldBase, newBase := len(e.rows[rn.old].path), len(e.rows[rn.new].path)
	i, j := rn.old, rn.new
	for {
		for i < rn.oldEnd && !e.listedOn(e.rows[i].rec, h) {
			i++
		}
		for j < rn.newEnd && e.cell(j, h) == nil {
			j++
		}
		if i == rn.oldEnd || j == rn.newEnd {
			return i == rn.oldEnd && j == rn.newEnd
		}
		if e.rows[i].path[oldBase:] != e.rows[j].path[newBase:] || !sameContent(&e.rows[i].rec.Entry, e.cell(j, h)) {
			return false
		}
		i++
		j++
	}
}

// othersKeptOld checks that every other host holds exactly the renaming
// host's old tree under the old folder, each entry unchanged since the
// record.
func (e *engine) othersKeptOld(rn rename) bool {
	for g := range e.nh() {
		if g == rn.host {
			continue
		}
		for i := rn.old; i < rn.oldEnd; i++ {
			c, rec := e.cell(i, g), e.rows[i].rec
			inOld := e.listedOn(rec, rn.host)
			if inOld != (c != nil) || c != nil && !e.unchanged(c, &rec.Entry) {
				return false
			}
		}
	}
	return true
}

// disjoint drops every rename whose old or new folder lies in, or holds,
// an old or new folder of another rename.
func (e *engine) disjoint(found []rename) []rename {
	type end struct{ row, rn int }
	ends := make([]end, 0, 2*len(found))
	for i, rn := range found {
		ends = append(ends, end{rn.old, i}, end{rn.new, i})
	}
	slices.SortFunc(ends, func(a, b end) int { return a.row - b.row })
	drop := make([]bool, len(found))
	var open []end
	for _, x := range ends {
		for len(open) > 0 && !isAncestor(e.rows[open[len(open)-1].row].path, e.rows[x.row].path) {
			open = open[:len(open)-1]
		}
		if len(open) > 0 {
			drop[x.rn] = true
			for _, o := range open {
				drop[o.rn] = true
			}
		}
		open = append(open, x)
	}
	var out []rename
	for i, rn := range found {
		if !drop[i] {
			out = append(out, rn)
		}
	}
	slices.SortFunc(out, func(a, b rename) int { return a.new - b.new })
	return out
}

// applyRename plans OpRename on every other host and moves that host's
// cells from the old subtree to the new, as the rename will. Moved cells
// are marked, so that no host is asked to fetch from a path that exists
// only once its own rename is done.
func (e *engine) applyRename(rn rename) {
	if e.moved == nil {
		e.moved = make([]bool, len(e.cells))
	}
	nh := e.nh()
	n := 0
	for j := rn.new; j < rn.newEnd; j++ {
		if e.cell(j, rn.host) != nil {
			n++
		}
	}
	for g := range nh {
		if g == rn.host {
			continue
		}
		have := e.cell(rn.old, g)
		slab := make([]wire.Entry, n)
		k, j := 0, rn.new
		for i := rn.old; i < rn.oldEnd; i++ {
			c := e.cell(i, g)
			if c == nil {
				continue
			}
			for e.cell(j, rn.host) == nil {
				j++
			}
			slab[k] = *c
			slab[k].Path = e.rows[j].path
			e.cells[j*nh+g] = &slab[k]
			e.moved[j*nh+g] = true
			e.cells[i*nh+g] = nil
			k++
			j++
		}
		e.out[g].renames = append(e.out[g].renames, wire.Op{
			Kind:    wire.OpRename,
			Path:    e.rows[rn.new].path,
			OldPath: e.rows[rn.old].path,
			Want:    slab[0],
			Have:    have,
		})
	}
}
