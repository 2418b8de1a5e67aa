package conflict

import (
	"fmt"
	"slices"

	"github.com/peerlink/peerlink/wire"
)

// engine holds one Resolve call's working state: the union of every path
// of every scan, of the last index and of the quarantine list, one row per
// path in tree order (see comparePaths), and for each row one cell per host.
type engine struct {
	opt        Options
	hosts      []string
	hostIdx    map[string]int
	masterMode bool              // DeleteMaster applies
	master     int               // index of DeleteMaster in hosts; -1 when not a participant
	clocks     []Clock           // per host; nil when no clock is off (see setClocks)
	writing    []map[string]bool // per host, files open for writing; nil when none (see setWriting)

	rows  []row
	recs  []Record      // the last index's trusted records, in tree order
	cells []*wire.Entry // row-major: cells[r*nh+h]; nil where h has no copy
	moved []bool        // parallel to cells once a rename is planned
	stack []int32       // ancestors of the last row added

	clashes [][]int32     // groups of sibling rows whose names fold together
	clashOf map[int32]int // row -> its group in clashes
	renames []rename
	quar    []Quarantine
	warn    warnings

	out   []hostOps // per host
	arena hostArena
	slab  entrySlab      // cells read from streams
	paths wire.PathArena // rows' paths read from streams
	table *Index         // the plan's index when Input.Compact

	// scratch, one row at a time
	state   []hstate
	holdBuf []string
	holdIdx []int
}

type row struct {
	path   string
	rec    *Record
	parent int32 // the row of the parent folder; -1 below the root
	flags  rowFlags
	fate   fate
}

type rowFlags uint8

const (
	fBad          rowFlags = 1 << iota // a scan was malformed here: leave alone
	fQuarantineIn                      // in Input.Quarantined
	fClash                             // member of a name clash group
	fClashQ                            // a clash member to quarantine
	fKeepChild                         // something below survives
	fHeld                              // in Input.Held
)

type fate uint8

const (
	fateNone       fate = iota // no host holds the path
	fateKeep                   // every host must end with the winner
	fateDelete                 // every host must remove it
	fateQuarantine             // quarantined by this plan
	fateFrozen                 // left alone: quarantined before, below a quarantine, or malformed
	fateHeld                   // left alone itself (Input.Held); what is below it is decided
)

func (e *engine) nh() int { return len(e.hosts) }

func (e *engine) cell(r, h int) *wire.Entry { return e.cells[r*len(e.hosts)+h] }

func (e *engine) isMoved(r, h int) bool {
	return e.moved != nil && e.moved[r*len(e.hosts)+h]
}

// present counts the hosts holding row r.
func (e *engine) present(r int) int {
	n := 0
	for _, c := range e.cells[r*e.nh() : (r+1)*e.nh()] {
		if c != nil {
			n++
		}
	}
	return n
}

func (e *engine) isDir(r, h int) bool {
	c := e.cell(r, h)
	return c != nil && c.Kind == wire.KindDir
}

// setHosts keeps the valid, distinct participants in their configured order.
func (e *engine) setHosts(in *Input) {
	e.hostIdx = make(map[string]int, len(in.Hosts))
	for _, h := range in.Hosts {
		if err := wire.CheckName("host", h); err != nil {
			e.warn.add("host:"+h, fmt.Sprintf("host %q ignored: %v", h, err))
			continue
		}
		if _, dup := e.hostIdx[h]; dup {
			e.warn.add("dup:"+h, fmt.Sprintf("host %s listed twice; the first place counts", h))
			continue
		}
		e.hostIdx[h] = len(e.hosts)
		e.hosts = append(e.hosts, h)
	}
	scanned := sortedKeys(in.Scans)
	for _, h := range sortedKeys(in.Streams) {
		if _, dup := in.Scans[h]; !dup {
			scanned = append(scanned, h)
		}
	}
	slices.Sort(scanned)
	for _, h := range scanned {
		if _, ok := e.hostIdx[h]; !ok {
			e.warn.add("scan:"+h, fmt.Sprintf("scan of %s ignored: not a participant", h))
		}
	}
	e.master = -1
	if m := e.opt.DeleteMaster; m != "" {
		if !e.opt.OfflineDeleteDetection {
			e.warn.add("master", fmt.Sprintf("delete master %s has no effect without offline delete detection", m))
			return
		}
		e.masterMode = true
		if i, ok := e.hostIdx[m]; ok {
			e.master = i
		} else {
			e.warn.add("master", fmt.Sprintf("delete master %s is not a participant: no offline deletion propagates", m))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// source is one sorted input of the merge: a host's scan (its sorted
// paths, or a stream), the last index (its sorted paths and the map, or
// Input.Sorted) or the quarantine list.
type source struct {
	paths  []string // sorted by comparePaths
	at     int
	stream *streamSource
	recs   []Record // Input.Sorted, read in place
	last   map[string]Record
}

func (s *source) peek() (string, bool) {
	switch {
	case s.stream != nil:
		return s.stream.cur.Path, s.stream.ok
	case s.recs != nil:
		if s.at < len(s.recs) {
			return s.recs[s.at].Entry.Path, true
		}
		return "", false
	case s.at < len(s.paths):
		return s.paths[s.at], true
	}
	return "", false
}

func (s *source) len() int {
	if s.recs != nil {
		return len(s.recs)
	}
	return len(s.paths)
}

// scanOrder validates a host's scan and returns it sorted in tree order,
// with the entries' indexes. Entries whose path is not a watch-set path
// cannot be acted on and are dropped; other invalid entries and repeated
// paths mark their row malformed, so it is left alone rather than
// mistaken for a deletion.
func (e *engine) scanOrder(host string, scan []wire.Entry) ([]string, []int32, []bool) {
	idx := make([]int32, 0, len(scan))
	var invalid map[int32]bool
	for i := range scan {
		if err := scan[i].Validate(); err != nil {
			if perr := wire.CheckPath(scan[i].Path); perr != nil {
				e.warn.add("path:"+host, fmt.Sprintf("host %s: entry ignored: %v", host, perr))
				continue
			}
			if invalid == nil {
				invalid = map[int32]bool{}
			}
			invalid[int32(i)] = true
		}
		idx = append(idx, int32(i))
	}
	less := func(a, b int32) int {
		if c := comparePaths(scan[a].Path, scan[b].Path); c != 0 {
			return c
		}
		return int(a - b)
	}
	if !slices.IsSortedFunc(idx, less) {
		slices.SortFunc(idx, less)
	}
	paths := make([]string, 0, len(idx))
	out := idx[:0]
	var bad []bool
	mark := func(k int) {
		if bad == nil {
			bad = make([]bool, len(idx))
		}
		bad[k] = true
	}
	for _, i := range idx {
		ent := &scan[i]
		if n := len(paths); n > 0 && paths[n-1] == ent.Path {
			e.warn.add("dup:"+host, fmt.Sprintf("host %s: %s is listed twice; left alone", host, ent.Path))
			mark(n - 1)
			continue
		}
		if invalid[i] {
			e.warn.add("entry:"+host, fmt.Sprintf("host %s: %v; left alone", host, ent.Validate()))
			mark(len(paths))
		}
		paths = append(paths, ent.Path)
		out = append(out, i)
	}
	if bad != nil {
		bad = bad[:len(paths)]
	}
	return paths, out, bad
}

// lastOrder returns the last index's paths sorted in tree order. build
// checks a path only where no scan names it (scan paths are checked) and
// each record as it merges it.
func lastOrder(last map[string]Record) []string {
	paths := make([]string, 0, len(last))
	for p := range last {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, comparePaths)
	return paths
}

// record returns the last index's record of p, the source's current one,
// or nil when it cannot be trusted: a copy of Input.Last's, or a pointer
// into Input.Sorted. A record that does not validate is ignored: without
// it nothing is detected as deleted, which errs towards keeping.
func (e *engine) record(p string, src *source) *Record {
	var rec *Record
	if src.recs != nil {
		rec = &src.recs[src.at]
	} else {
		r := src.last[p]
		rec = &r
	}
	switch {
	case rec.Entry.Path != p:
		e.warn.add("rec", fmt.Sprintf("last index: record of %s names %q; ignored", p, rec.Entry.Path))
	case !validBesidesPath(rec.Entry):
		e.warn.add("rec", fmt.Sprintf("last index: %v; record ignored", rec.Entry.Validate()))
	case src.recs != nil:
		return rec
	default:
		e.recs = append(e.recs, *rec)
		return &e.recs[len(e.recs)-1]
	}
	return nil
}

// validBesidesPath validates an entry whose path is known to be valid,
// without checking the path again.
func validBesidesPath(e wire.Entry) bool {
	e.Path = "x"
	return e.Validate() == nil
}
