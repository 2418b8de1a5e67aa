package conflict

import (
	"fmt"
	"slices"

	"github.com/peerlink/peerlink/wire"
)

// build merges the hosts' scans, the last index and the quarantine list into
// e.rows and e.cells. Every source is sorted once (a scan that arrives in
// tree order, as a directory walk produces it, is only checked), then all
// are merged in one pass: O(n log n) overall and one row per distinct path.
func (e *engine) build(in *Input) {
	nh := e.nh()
	srcs := make([]source, nh+3)
	ords := make([][]int32, nh)
	bads := make([][]bool, nh)
	scans := make([][]wire.Entry, nh)
	streamBad := make([]map[int32]bool, nh)
	most := 0
	for h, name := range e.hosts {
		scans[h] = in.Scans[name]
		if st, ok := in.Streams[name]; ok && scans[h] == nil {
			if _, listed := in.Scans[name]; !listed {
				if chk := e.checkStream(name, st); chk.sorted {
					srcs[h].stream, streamBad[h] = openStream(st), chk.bad
					defer srcs[h].stream.close()
					most = max(most, chk.kept)
					continue
				}
				for ent := range st.Entries() {
					scans[h] = append(scans[h], ent)
				}
			}
		}
		srcs[h].paths, ords[h], bads[h] = e.scanOrder(name, scans[h])
		most = max(most, len(srcs[h].paths))
	}
	e.lastSource(in, &srcs[nh])
	srcs[nh+1].paths = e.listOrder("quarantine list", in.Quarantined)
	srcs[nh+2].paths = e.listOrder("held paths", in.Held)
	most = max(most, srcs[nh].len())
	e.rows = make([]row, 0, most+most/16+16)
	e.cells = make([]*wire.Entry, 0, cap(e.rows)*nh)

	for {
		p, ok := minPath(srcs)
		if !ok {
			break
		}
		last := &srcs[nh]
		if !e.fromScan(srcs[:nh], p) {
			if err := wire.CheckPath(p); err != nil {
				e.warn.add("rec", fmt.Sprintf("last index: %v; record ignored", err))
				last.at++
				continue
			}
		}
		q, inLast := last.peek()
		inLast = inLast && q == p
		if inLast {
			p = q // one string for the row, its record and its cells
		} else {
			p = e.rowPath(srcs[:nh], p)
		}
		r := e.addRow(p)
		if inLast {
			e.rows[r].rec = e.record(p, last)
			last.at++
		}
		for h := range nh {
			s := &srcs[h]
			if q, ok := s.peek(); !ok || q != p {
				continue
			}
			if st := s.stream; st != nil {
				e.cells[r*nh+h] = e.keepStreamed(r, h, st.cur)
				if streamBad[h][st.at] {
					e.rows[r].flags |= fBad
				}
				st.advance()
				continue
			}
			e.cells[r*nh+h] = &scans[h][ords[h][s.at]]
			if bads[h] != nil && bads[h][s.at] {
				e.rows[r].flags |= fBad
			}
			s.at++
		}
		if q, ok := srcs[nh+1].peek(); ok && q == p {
			e.rows[r].flags |= fQuarantineIn
			srcs[nh+1].at++
		}
		if q, ok := srcs[nh+2].peek(); ok && q == p {
			e.rows[r].flags |= fHeld
			srcs[nh+2].at++
		}
		e.checkParents(r)
	}
}

// lastSource sets src to read the last index in tree order: Input.Sorted
// in place when it is in strict tree order, else Input.Last (or Sorted
// made a map, as Last would hold it) sorted.
func (e *engine) lastSource(in *Input, src *source) {
	last := in.Last
	if len(last) == 0 && len(in.Sorted) > 0 {
		sorted := true
		for i := 1; i < len(in.Sorted) && sorted; i++ {
			sorted = comparePaths(in.Sorted[i-1].Entry.Path, in.Sorted[i].Entry.Path) < 0
		}
		if sorted {
			src.recs = in.Sorted
			return
		}
		last = make(map[string]Record, len(in.Sorted))
		for _, rec := range in.Sorted {
			last[rec.Entry.Path] = rec
		}
	}
	src.paths = lastOrder(last)
	src.last = last
	e.recs = make([]Record, 0, len(src.paths))
}

// fromScan reports whether a scan names p (and so p is a checked path).
func (e *engine) fromScan(scans []source, p string) bool {
	for i := range scans {
		if q, ok := scans[i].peek(); ok && q == p {
			return true
		}
	}
	return false
}

// rowPath returns the string a row of p keeps: a scan's in memory, which
// it keeps anyway, or else a copy of a stream's in the engine's blocks. A
// stream's strings are read anew for each entry and are garbage but for
// the rows', so that nothing a stream hands out outlives its read
// (Stream).
func (e *engine) rowPath(scans []source, p string) string {
	streamed := false
	for i := range scans {
		if q, ok := scans[i].peek(); ok && q == p {
			if scans[i].stream == nil {
				return q
			}
			streamed = true
		}
	}
	if streamed {
		return e.paths.Copy(p)
	}
	return p
}

func minPath(srcs []source) (string, bool) {
	var best string
	found := false
	for i := range srcs {
		if p, ok := srcs[i].peek(); ok && (!found || p != best && comparePaths(p, best) < 0) {
			best, found = p, true
		}
	}
	return best, found
}

// listOrder returns the paths set in q (the quarantine list, or the held
// paths: what names it) in tree order, each checked.
func (e *engine) listOrder(what string, q map[string]bool) []string {
	var paths []string
	for _, p := range sortedKeys(q) {
		if !q[p] {
			continue
		}
		if err := wire.CheckPath(p); err != nil {
			e.warn.add(what, fmt.Sprintf("%s: %v; ignored", what, err))
			continue
		}
		paths = append(paths, p)
	}
	slices.SortFunc(paths, comparePaths)
	return paths
}

// addRow appends the row of p, first adding rows for any of its folders
// that no source names, so that every row's parent is the row of its
// parent folder. Rows arrive in tree order, so the folders of p that
// already have rows are exactly those on the stack.
func (e *engine) addRow(p string) int {
	for n := len(e.stack); n > 0 && !isAncestor(e.rows[e.stack[n-1]].path, p); n-- {
		e.stack = e.stack[:n-1]
	}
	from := 0
	if n := len(e.stack); n > 0 {
		from = len(e.rows[e.stack[n-1]].path) + 1
	}
	for i := from; i < len(p); i++ {
		if p[i] == '/' {
			e.stack = append(e.stack, int32(e.appendRow(p[:i])))
		}
	}
	r := e.appendRow(p)
	e.stack = append(e.stack, int32(r))
	return r
}

func (e *engine) appendRow(p string) int {
	parent := int32(-1)
	if n := len(e.stack); n > 0 {
		parent = e.stack[n-1]
	}
	e.rows = append(e.rows, row{path: p, parent: parent})
	for range e.nh() {
		e.cells = append(e.cells, nil)
	}
	return len(e.rows) - 1
}

// checkParents makes sure that every host holding row r holds its folders
// as folders. A scan that lists a path without its folder, or below a file,
// contradicts itself: the folder is marked malformed (so that it and
// everything below it are left alone) and, where missing, stood in for by
// a folder entry that no op will ever carry.
func (e *engine) checkParents(r int) {
	for h := range e.nh() {
		if e.cell(r, h) == nil {
			continue
		}
		for p := e.rows[r].parent; p >= 0; p = e.rows[p].parent {
			c := e.cell(int(p), h)
			if c != nil && c.Kind == wire.KindDir {
				break
			}
			e.rows[p].flags |= fBad
			if c != nil {
				e.warn.add("under-file:"+e.hosts[h], fmt.Sprintf("host %s: scan lists %s below the file %s; left alone",
					e.hosts[h], e.rows[r].path, e.rows[p].path))
				break
			}
			e.warn.add("implied:"+e.hosts[h], fmt.Sprintf("host %s: scan lists %s without its folder %s; left alone",
				e.hosts[h], e.rows[r].path, e.rows[p].path))
			e.cells[int(p)*e.nh()+h] = &wire.Entry{Path: e.rows[p].path, Kind: wire.KindDir}
		}
	}
}
