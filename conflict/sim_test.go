package conflict

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// tree is one host's watch set in the simulator: path -> entry.
type tree map[string]wire.Entry

func (t tree) clone() tree {
	c := make(tree, len(t))
	for p, e := range t {
		c[p] = e
	}
	return c
}

// trees builds every participant's tree from an Input's scans. Entries
// whose path could not exist below a root are left out, as no agent would
// report them.
func trees(in Input) map[string]tree {
	out := make(map[string]tree, len(in.Hosts))
	for _, h := range in.Hosts {
		t := tree{}
		for _, e := range in.Scans[h] {
			if wire.CheckPath(e.Path) == nil {
				t[e.Path] = e
			}
		}
		out[h] = t
	}
	return out
}

// underAny reports whether p is one of roots or below one of them.
func underAny(p string, roots map[string]bool) bool {
	for q := p; ; q = wire.Parent(q) {
		if roots[q] {
			return true
		}
		if q == "" {
			return false
		}
	}
}

// simulate applies a plan the way targets do, checking every op against the
// simulated state as a careful target would: Have must match what is there
// (a target refuses otherwise), folders must exist before what goes in
// them, a fetch's source must hold exactly the wanted content, and after
// each op the path must be exactly Want. Ops of one host run in order; the
// sources of fetches are read in their state before the plan.
func simulate(in Input, p Plan) (map[string]tree, []string) {
	before := trees(in)
	after := make(map[string]tree, len(before))
	var errs []string
	for _, h := range in.Hosts {
		t := before[h].clone()
		phase := 0
		deleting := map[string]bool{}
		for _, op := range p.Ops[h] {
			if op.Kind == wire.OpDelete {
				deleting[op.Path] = true
			}
		}
		for i, op := range p.Ops[h] {
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Sprintf("%s op %d (%s %s): %s", h, i, op.Kind, op.Path, fmt.Sprintf(format, args...)))
			}
			if err := op.Validate(); err != nil {
				fail("invalid: %v", err)
				continue
			}
			ph := map[wire.OpKind]int{wire.OpRename: 0, wire.OpMkdir: 1, wire.OpFetch: 2, wire.OpMeta: 2, wire.OpDelete: 3}[op.Kind]
			if ph < phase {
				fail("out of phase order")
			}
			phase = ph
			at := op.Path
			if op.Kind == wire.OpRename {
				at = op.OldPath
			}
			cur, ok := t[at]
			switch {
			case op.Have == nil && ok:
				fail("Have is nil but the host holds %v", cur)
			case op.Have != nil && !ok:
				fail("Have is %v but the host holds nothing", *op.Have)
			case op.Have != nil && *op.Have != cur:
				fail("Have is %v but the host holds %v", *op.Have, cur)
			}
			if op.Kind != wire.OpDelete && op.Kind != wire.OpRename {
				if par := wire.Parent(op.Path); par != "" && t[par].Kind != wire.KindDir {
					fail("parent folder missing")
				}
			}
			if creates := op.Kind == wire.OpRename || op.Have == nil && op.Kind != wire.OpDelete; creates {
				if other := sameFolded(t, op.Path); other != "" {
					fail("creates it beside %q: on a case-insensitive or normalising host one would overwrite the other", other)
				}
			}
			if op.Kind == wire.OpDelete && wire.Parent(op.Path) != "" && underAny(wire.Parent(op.Path), deleting) {
				fail("a folder above it is deleted too: deleting a folder must be one op")
			}
			switch op.Kind {
			case wire.OpRename:
				if _, taken := t[op.Path]; taken {
					fail("rename target exists")
				}
				if par := wire.Parent(op.Path); par != "" && t[par].Kind != wire.KindDir {
					fail("rename target's folder missing")
				}
				moveTree(t, op.OldPath, op.Path)
			case wire.OpMkdir, wire.OpMeta:
				if op.Kind == wire.OpMeta && !cur.SameContent(op.Want) {
					fail("meta over different content")
				}
				t[op.Path] = op.Want
			case wire.OpFetch:
				if op.From == h {
					fail("fetch from itself")
				}
				if src, ok := before[op.From][op.Path]; !ok || !src.SameContent(op.Want) {
					fail("source %s does not hold the wanted content", op.From)
				}
				t[op.Path] = op.Want
			case wire.OpDelete:
				removeTree(t, op.Path)
			}
			if op.Kind != wire.OpDelete && t[op.Path] != op.Want {
				fail("ends as %v, want %v", t[op.Path], op.Want)
			}
		}
		after[h] = t
	}
	return after, errs
}

// sameFolded returns a path of t other than p whose parent is p's and whose
// name folds to p's name, or "".
func sameFolded(t tree, p string) string {
	key := string(foldName(nil, wire.Base(p)))
	for q := range t {
		if q != p && wire.Parent(q) == wire.Parent(p) && string(foldName(nil, wire.Base(q))) == key {
			return q
		}
	}
	return ""
}

func moveTree(t tree, from, to string) {
	for p, e := range t {
		if p == from || isAncestor(from, p) {
			delete(t, p)
			e.Path = to + p[len(from):]
			t[e.Path] = e
		}
	}
}

func removeTree(t tree, at string) {
	for p := range t {
		if p == at || isAncestor(at, p) {
			delete(t, p)
		}
	}
}

// quarantinedRoots is every path the plan leaves for an operator.
func quarantinedRoots(in Input, p Plan) map[string]bool {
	q := map[string]bool{}
	for k, v := range in.Quarantined {
		q[k] = v
	}
	for _, x := range p.Quarantines {
		q[x.Path] = true
	}
	return q
}

// checkPlan runs the simulator and checks what must hold for every plan:
// ops valid and consistent with the hosts' state, every path outside the
// quarantines identical on every host, quarantines untouched, the index
// true, the counts right. It returns the trees after the plan.
func checkPlan(in Input, p Plan, leftAlone ...string) (map[string]tree, []string) {
	after, errs := simulate(in, p)
	before := trees(in)
	q := quarantinedRoots(in, p)
	for _, r := range leftAlone {
		q[r] = true
	}
	trunc := func(ns int64) int64 {
		if in.Options.TruncateMs {
			return wholeSeconds(ns)
		}
		return ns
	}
	same := func(a, b wire.Entry) bool {
		return a.SameContent(b) && a.Mode == b.Mode && (a.Kind == wire.KindDir || trunc(a.Mtime) == trunc(b.Mtime))
	}
	all := map[string]bool{}
	for _, t := range after {
		for path := range t {
			all[path] = true
		}
	}
	// A held path is left alone itself only (Input.Held).
	alone := func(path string) bool { return underAny(path, q) || in.Held[path] }
	for _, path := range slices.Sorted(maps.Keys(all)) {
		if alone(path) {
			continue
		}
		rec, inIndex := p.Index[path]
		if !inIndex {
			errs = append(errs, fmt.Sprintf("%s: on some host after the plan but not in the index", path))
		}
		for _, h := range in.Hosts {
			e, ok := after[h][path]
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("%s: missing on %s after the plan", path, h))
			case inIndex && !same(e, rec.Entry):
				errs = append(errs, fmt.Sprintf("%s: %s ends as %v, the index says %v", path, h, e, rec.Entry))
			}
		}
	}
	for path, rec := range p.Index {
		if alone(path) || rec.Entry.Path != path {
			errs = append(errs, fmt.Sprintf("%s: bad index record %v", path, rec))
		}
		for _, h := range rec.Hosts {
			if e, ok := before[h][path]; !ok || !same(e, rec.Entry) {
				errs = append(errs, fmt.Sprintf("%s: index lists %s, which does not hold it now", path, h))
			}
		}
	}
	for _, h := range in.Hosts {
		for path, e := range before[h] {
			if alone(path) && after[h][path] != e {
				errs = append(errs, fmt.Sprintf("%s: quarantined, but changed on %s", path, h))
			}
		}
		for path := range after[h] {
			if _, was := before[h][path]; !was && alone(path) {
				errs = append(errs, fmt.Sprintf("%s: quarantined, but created on %s", path, h))
			}
		}
	}
	for _, r := range p.Released {
		if !in.Quarantined[r] || !in.Options.DeleteQuarantined {
			errs = append(errs, r+": released but not quarantined, or the option is off")
		}
		for _, h := range in.Hosts {
			if _, ok := before[h][r]; ok {
				errs = append(errs, r+": released but "+h+" still holds it")
			}
		}
	}
	for _, x := range p.Quarantines {
		if in.Quarantined[x.Path] {
			errs = append(errs, x.Path+": quarantined again")
		}
		for i, c := range x.Copies {
			if i >= len(in.Hosts) || c.Host != in.Hosts[i] || c.Entry != before[c.Host][x.Path] {
				errs = append(errs, fmt.Sprintf("%s: copy %d is %+v, not the host's entry", x.Path, i, c))
			}
		}
	}
	var files, bytes int64
	for _, ops := range p.Ops {
		for _, op := range ops {
			if op.Kind == wire.OpFetch {
				files++
				bytes += op.Want.Size
			}
		}
	}
	if files != p.Files || bytes != p.Bytes {
		errs = append(errs, fmt.Sprintf("plan counts %d files %d bytes, ops hold %d files %d bytes", p.Files, p.Bytes, files, bytes))
	}
	return after, errs
}

// opString renders an op compactly for table tests.
func opString(op wire.Op) string {
	switch op.Kind {
	case wire.OpFetch:
		return fmt.Sprintf("fetch %s <- %s", op.Path, op.From)
	case wire.OpRename:
		return fmt.Sprintf("rename %s -> %s", op.OldPath, op.Path)
	}
	return fmt.Sprintf("%s %s", op.Kind, op.Path)
}

func opStrings(ops []wire.Op) string {
	s := make([]string, len(ops))
	for i, op := range ops {
		s[i] = opString(op)
	}
	return strings.Join(s, "; ")
}
