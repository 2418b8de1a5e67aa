package conflict

import (
	"fmt"
	"slices"
	"strings"
)

// findClashes groups sibling names that differ but fold to the same key
// (see foldName): "Readme" and "README", or "café" written precomposed
// (NFC) and decomposed (NFD). Every member is marked fClash. Only paths
// some host holds are compared; clashes of paths below two clashing
// folders are consequences of the folders' clash and are not groups.
func (e *engine) findClashes() {
	type keyed struct {
		sum uint64
		row int32
	}
	// One key per row held, allocated once: grown by appending, a
	// million rows' keys cost half as much again at the engine's peak.
	ks := make([]keyed, 0, len(e.rows))
	var buf []byte
	for r := range e.rows {
		if e.present(r) == 0 {
			continue
		}
		buf = foldName(buf[:0], baseName(e.rows[r].path))
		ks = append(ks, keyed{fnvKey(e.rows[r].parent, buf), int32(r)})
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.sum != b.sum {
			if a.sum < b.sum {
				return -1
			}
			return 1
		}
		return int(a.row - b.row)
	})
	for i := 0; i < len(ks); {
		j := i + 1
		for j < len(ks) && ks[j].sum == ks[i].sum {
			j++
		}
		if j-i > 1 {
			rows := make([]int32, 0, j-i)
			for _, k := range ks[i:j] {
				rows = append(rows, k.row)
			}
			e.groupClashes(rows)
		}
		i = j
	}
	slices.SortFunc(e.clashes, func(a, b []int32) int { return int(a[0] - b[0]) })
	e.clashOf = make(map[int32]int)
	for i, g := range e.clashes {
		for _, r := range g {
			e.rows[r].flags |= fClash
			e.clashOf[r] = i
		}
	}
}

// groupClashes splits rows whose keys hashed alike into true groups.
func (e *engine) groupClashes(rows []int32) {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = string(foldName(nil, baseName(e.rows[r].path)))
	}
	done := make([]bool, len(rows))
	for i := range rows {
		if done[i] {
			continue
		}
		group := []int32{rows[i]}
		for j := i + 1; j < len(rows); j++ {
			if !done[j] && keys[j] == keys[i] && e.rows[rows[j]].parent == e.rows[rows[i]].parent {
				group = append(group, rows[j])
				done[j] = true
			}
		}
		if len(group) > 1 {
			e.clashes = append(e.clashes, group)
		}
	}
}

// settleClashes applies the name clash rule once renames are planned: a
// member of a group that every host holds is synchronised as usual, since
// every host already has a place for it and nothing is created; every
// other member is quarantined (ReasonNameClash), because creating it where
// a sibling of the same folded name exists, or creating two of them on one
// host, would let one overwrite the other on a case-insensitive or
// normalising file system. Each group also makes a warning.
func (e *engine) settleClashes() {
	for _, g := range e.clashes {
		names := make([]string, len(g))
		for i, r := range g {
			names[i] = e.rows[r].path
			if e.present(int(r)) < e.nh() {
				e.rows[r].flags |= fClashQ
			}
		}
		e.warn.add("clash", fmt.Sprintf("names differ only in case or Unicode form: %s; rename all but one of them",
			strings.Join(names, ", ")))
	}
}

// clashOthers names the other members of r's clash group.
func (e *engine) clashOthers(r int) string {
	var others []string
	for _, x := range e.clashes[e.clashOf[int32(r)]] {
		if int(x) != r {
			others = append(others, e.rows[x].path)
		}
	}
	return strings.Join(others, ", ")
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// fnvKey hashes a parent row and a folded name (FNV-1a, 64 bits).
func fnvKey(parent int32, key []byte) uint64 {
	h := uint64(14695981039346656037)
	for i := range 4 {
		h ^= uint64(byte(parent >> (8 * i)))
		h *= 1099511628211
	}
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
