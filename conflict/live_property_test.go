package conflict

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// TestLiveProperties generates random batches from one host against a
// random index, carries each plan out on a model of the targets' trees
// (checking every op's Have as a careful target does), and checks that:
// every target ends equal to the source but where a change was refused;
// nothing outside the batch's paths changes; no op touches a quarantined
// path or one another host holds open; the index follows the source; and
// deciding the batch in one go leaves the targets and the index as
// deciding it change by change does.
func TestLiveProperties(t *testing.T) {
	iterations := 3000
	if testing.Short() {
		iterations = 500
	}
	rng := rand.New(rand.NewPCG(20260114, 6))
	seen := map[string]int{}
	for i := range iterations {
		g := newLiveWorld(rng)
		batch := g.batch(1 + rng.IntN(12))
		whole := g.carry([][]wire.Change{batch})
		var single [][]wire.Change
		for _, ch := range batch {
			single = append(single, []wire.Change{ch})
		}
		each := g.carry(single)
		// An op below what a refused change left apart may find the
		// target otherwise than the source (the hub's repair settles it).
		excluded := g.excluded(whole)
		var errs []string
		for _, f := range append(whole.failed, each.failed...) {
			if !underAny(f.op.Path, excluded) && (f.op.OldPath == "" || !underAny(f.op.OldPath, excluded)) {
				errs = append(errs, f.host+": "+liveOpString(f.op)+": "+f.why)
			}
		}
		errs = append(errs, g.check(whole, excluded)...)
		if !maps.Equal(whole.targets["b"], each.targets["b"]) || !maps.Equal(whole.targets["c"], each.targets["c"]) {
			errs = append(errs, "the batch in one go left the targets otherwise than change by change:\n"+
				diffTrees(whole.targets["b"], each.targets["b"]))
		}
		if !maps.Equal(whole.index, each.index) {
			errs = append(errs, "the batch in one go left the index otherwise than change by change")
		}
		if len(errs) > 0 {
			t.Fatalf("iteration %d:\n%s\nfailures:\n%s", i, g.describe(batch, whole), strings.Join(errs, "\n"))
		}
		for _, r := range whole.refused {
			seen[string(r.Why)]++
		}
		for _, op := range whole.ops {
			seen[op.Kind.String()]++
		}
	}
	t.Logf("coverage over %d batches: %v", iterations, seen)
	for _, k := range []string{"fetch", "meta", "mkdir", "delete", "rename",
		string(LiveMerged), string(LiveQuarantined), string(LiveEcho), string(LiveSecondWriter), string(LiveNameClash)} {
		if seen[k] == 0 {
			t.Errorf("no generated batch produced a %s: the generator needs widening", k)
		}
	}
}

// liveWorld is one generated session: the index, which every host holds,
// the source's tree as its changes leave it, and the hub's tables.
type liveWorld struct {
	rng     *rand.Rand
	index   tree
	source  tree
	quar    map[string]bool
	locks   map[string]string
	version int
	last    []wire.Change // the batch generated
}

func newLiveWorld(rng *rand.Rand) *liveWorld {
	g := &liveWorld{rng: rng, index: tree{}, quar: map[string]bool{}, locks: map[string]string{}}
	for range rng.IntN(10) {
		// The index holds no two names that clash: a start quarantines
		// all but one (a pair every host holds is out of scope here).
		if e, ok := g.create(g.index, rng.IntN(3) == 0); ok && clashesIn(g.index, e.Path) {
			delete(g.index, e.Path)
		}
	}
	g.source = g.index.clone()
	paths := slices.Sorted(maps.Keys(g.index))
	if len(paths) > 0 && rng.IntN(4) == 0 {
		g.quar[paths[rng.IntN(len(paths))]] = true
	}
	if len(paths) > 0 && rng.IntN(3) == 0 {
		g.locks[paths[rng.IntN(len(paths))]] = g.pick("b", liveHost)
	}
	return g
}

func (g *liveWorld) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

// folder returns a folder of t, or the root.
func (g *liveWorld) folder(t tree) string {
	dirs := []string{""}
	for _, p := range slices.Sorted(maps.Keys(t)) {
		if t[p].Kind == wire.KindDir {
			dirs = append(dirs, p)
		}
	}
	return dirs[g.rng.IntN(len(dirs))]
}

// free returns a new name in a folder of t: names differ in case now and
// then, so that some clash.
func (g *liveWorld) free(t tree) (string, bool) {
	p := wire.Join(g.folder(t), g.pick("x", "X", "y", "z", "Z", "w"))
	_, taken := t[p]
	return p, !taken
}

func (g *liveWorld) file(p string) wire.Entry {
	g.version++
	return F(p, fmt.Sprint(g.version), float64(g.version))
}

// create adds a new file or folder to t and returns it.
func (g *liveWorld) create(t tree, dir bool) (wire.Entry, bool) {
	p, ok := g.free(t)
	if !ok {
		return wire.Entry{}, false
	}
	e := g.file(p)
	if dir {
		e = D(p)
	}
	t[p] = e
	return e, true
}

// batch makes n changes to the source and returns them as reported.
func (g *liveWorld) batch(n int) []wire.Change {
	var out []wire.Change
	for len(out) < n {
		paths := slices.Sorted(maps.Keys(g.source))
		var some string
		if len(paths) > 0 {
			some = paths[g.rng.IntN(len(paths))]
		}
		switch k := g.rng.IntN(8); {
		case k == 0 && len(out) > 0 && out[len(out)-1].Kind != wire.ChangeRename:
			out = append(out, out[len(out)-1]) // reported twice
		case k <= 2:
			if e, ok := g.create(g.source, k == 2); ok {
				out = append(out, wire.Change{Kind: map[bool]wire.ChangeKind{false: wire.ChangeWrite, true: wire.ChangeMkdir}[k == 2], Path: e.Path, Entry: e})
			}
		case k == 3 && some != "" && g.source[some].Kind == wire.KindFile:
			e := g.file(some)
			g.source[some] = e
			out = append(out, wire.Change{Kind: wire.ChangeWrite, Path: some, Entry: e})
		case k == 4 && some != "" && g.source[some].Kind == wire.KindFile:
			e := g.source[some]
			e.Mode ^= 0o100
			g.source[some] = e
			out = append(out, wire.Change{Kind: wire.ChangeMeta, Path: some, Entry: e})
		case k == 5 && some != "":
			removeTree(g.source, some)
			out = append(out, wire.Change{Kind: wire.ChangeRemove, Path: some})
		case k >= 6 && some != "":
			to, ok := g.free(g.source)
			if !ok || to == some || isAncestor(some, to) {
				continue
			}
			moveTree(g.source, some, to)
			out = append(out, wire.Change{Kind: wire.ChangeRename, Path: to, OldPath: some, Entry: g.source[to]})
		}
	}
	g.last = out
	return out
}

// carried is what deciding a batch's rounds did to the model.
type carried struct {
	targets map[string]tree
	index   tree
	ops     []wire.Op
	refused []LiveRefusal
	clashes []Quarantine
	failed  []liveFailure
}

// liveFailure is an op the model's target refused.
type liveFailure struct {
	host, why string
	op        wire.Op
}

// carry decides each round as the hub does, with the index and the File
// Conflict List as the rounds before left them, carries its ops out on
// every target (all of them succeed) and updates the index.
func (g *liveWorld) carry(rounds [][]wire.Change) carried {
	c := carried{targets: map[string]tree{}, index: g.index.clone()}
	quar := maps.Clone(g.quar)
	for _, h := range liveTargets {
		c.targets[h] = g.index.clone()
	}
	for _, batch := range rounds {
		in := LiveInput{Host: liveHost, Targets: liveTargets, Batch: batch, Index: map[string]Record{},
			Folders: map[string][]string{}, Quarantined: maps.Clone(quar), Locks: g.locks}
		for p, e := range c.index {
			in.Index[p] = Record{Entry: e, Hosts: append([]string{liveHost}, liveTargets...)}
		}
		for _, dir := range LiveFolders(batch, in.Index) {
			for p := range c.index {
				if p != "" && wire.Parent(p) == dir {
					in.Folders[dir] = append(in.Folders[dir], wire.Base(p))
				}
			}
		}
		p := Live(in)
		for _, q := range p.Quarantines {
			quar[q.Path] = true
		}
		c.refused = append(c.refused, p.Refused...)
		c.clashes = append(c.clashes, p.Quarantines...)
		for _, h := range liveTargets {
			c.ops = append(c.ops, p.Ops[h]...)
			for _, op := range p.Ops[h] {
				if why := applyLive(c.targets[h], op); why != "" {
					c.failed = append(c.failed, liveFailure{host: h, why: why, op: op})
				}
			}
		}
		for _, a := range p.Done {
			updateIndex(c.index, a.Update(liveHost, liveTargets, map[string]bool{"b": true, "c": true}, nil))
		}
	}
	return c
}

// applyLive carries op out on t as a careful target does: it refuses an
// op whose Have is not what t holds.
func applyLive(t tree, op wire.Op) string {
	at := op.Path
	if op.Kind == wire.OpRename {
		at = op.OldPath
	}
	cur, ok := t[at]
	switch {
	case op.Kind == wire.OpMkdir:
		if ok && cur.Kind != wire.KindDir {
			return "a file is there"
		}
	case op.Have == nil && ok:
		return "appeared since the scan"
	case op.Have != nil && (!ok || cur != *op.Have):
		return fmt.Sprintf("changed since the scan (holds %v)", ok)
	}
	if parent := wire.Parent(op.Path); parent != "" && t[parent].Kind != wire.KindDir {
		return "no folder " + parent
	}
	switch op.Kind {
	case wire.OpFetch, wire.OpMeta, wire.OpMkdir:
		if op.Kind != wire.OpMkdir || !ok {
			t[op.Path] = op.Want
		}
	case wire.OpDelete:
		removeTree(t, op.Path)
	case wire.OpRename:
		removeTree(t, op.Path)
		moveTree(t, op.OldPath, op.Path)
		t[op.Path] = op.Want
	}
	return ""
}

// updateIndex applies u to the model index (entries only: every host
// holds them, since every op succeeds).
func updateIndex(idx tree, u LiveUpdate) {
	if u.Forget != "" {
		removeTree(idx, u.Forget)
	}
	if u.MoveFrom != "" {
		moveTree(idx, u.MoveFrom, u.MoveTo)
	}
	if u.Put != nil {
		idx[u.Put.Entry.Path] = u.Put.Entry
	}
}

// excluded returns the paths where the targets may differ from the
// source after whole: those of the changes refused (but merged or echoes),
// where they moved, and the File Conflict List.
func (g *liveWorld) excluded(whole carried) map[string]bool {
	excluded := maps.Clone(g.quar)
	for _, q := range whole.clashes {
		excluded[q.Path] = true
	}
	refused := whole.refused
	for _, ch := range g.last {
		if len(refused) > 0 && refused[0].Change == ch {
			if why := refused[0].Why; why != LiveMerged && why != LiveEcho {
				excluded[ch.Path] = true
				if ch.OldPath != "" {
					excluded[ch.OldPath] = true
				}
			}
			refused = refused[1:]
			continue
		}
		if ch.Kind == wire.ChangeRename && (underAny(ch.Path, excluded) || underAny(ch.OldPath, excluded)) {
			// A move into or out of what was left apart may fail there.
			excluded[ch.Path], excluded[ch.OldPath] = true, true
		}
		if ch.Kind == wire.ChangeRename {
			// What was left apart moves with the folder it is in.
			for x := range excluded {
				if x == ch.OldPath || isAncestor(ch.OldPath, x) {
					excluded[ch.Path+x[len(ch.OldPath):]] = true
				}
			}
		}
	}
	return excluded
}

// check returns what whole, the batch decided in one go, breaks of the
// properties TestLiveProperties states, but at excluded paths.
func (g *liveWorld) check(whole carried, excluded map[string]bool) []string {
	var errs []string
	touched := map[string]bool{}
	for _, ch := range g.last {
		touched[ch.Path] = true
		if ch.OldPath != "" {
			touched[ch.OldPath] = true
		}
	}
	for _, h := range liveTargets {
		t := whole.targets[h]
		for _, p := range slices.Sorted(maps.Keys(union(g.source, t, g.index))) {
			s, sok := g.source[p]
			c, cok := t[p]
			i, iok := g.index[p]
			switch {
			case !underAny(p, touched) && (cok != iok || c != i):
				errs = append(errs, fmt.Sprintf("%s: %s changed, which no change of the batch touches", h, p))
			case underAny(p, excluded):
			case sok != cok || s != c:
				errs = append(errs, fmt.Sprintf("%s: %s is %v, the source's %v", h, p, entryString(c, cok), entryString(s, sok)))
			}
		}
	}
	for p, e := range union(g.source, whole.index) {
		if underAny(p, excluded) {
			continue
		}
		if s, ok := g.source[p]; !ok || whole.index[p] != s {
			errs = append(errs, fmt.Sprintf("index: %s is %v, the source's %v", p, e, s))
		}
	}
	for _, op := range whole.ops {
		if underAny(op.Path, g.quar) || (op.OldPath != "" && underAny(op.OldPath, g.quar)) {
			errs = append(errs, "an op touches a quarantined path: "+liveOpString(op))
		}
		if src, ok := g.locks[op.Path]; ok && src != liveHost {
			errs = append(errs, "an op touches a path another host holds open: "+liveOpString(op))
		}
	}
	return errs
}

func union(ts ...tree) map[string]bool {
	out := map[string]bool{}
	for _, t := range ts {
		for p := range t {
			out[p] = true
		}
	}
	return out
}

func entryString(e wire.Entry, ok bool) string {
	switch {
	case !ok:
		return "absent"
	case e.Kind == wire.KindDir:
		return fmt.Sprintf("dir %o", e.Mode)
	}
	return fmt.Sprintf("file v%s %o", strings.TrimLeft(fmt.Sprint(e.Size), " "), e.Mode)
}

func diffTrees(a, b tree) string {
	var s []string
	for _, p := range slices.Sorted(maps.Keys(union(a, b))) {
		x, xok := a[p]
		y, yok := b[p]
		if xok != yok || x != y {
			s = append(s, fmt.Sprintf("  %s: %s / %s", p, entryString(x, xok), entryString(y, yok)))
		}
	}
	return strings.Join(s, "\n")
}

func (g *liveWorld) describe(batch []wire.Change, whole carried) string {
	var b strings.Builder
	b.WriteString("index:\n")
	for _, p := range slices.Sorted(maps.Keys(g.index)) {
		fmt.Fprintf(&b, "  %s %s\n", p, entryString(g.index[p], true))
	}
	fmt.Fprintf(&b, "quarantined %v, locks %v\nbatch:\n", slices.Sorted(maps.Keys(g.quar)), g.locks)
	for _, ch := range batch {
		fmt.Fprintf(&b, "  %v %s %s %s\n", ch.Kind, ch.Path, ch.OldPath, entryString(ch.Entry, ch.Kind != wire.ChangeRemove))
	}
	b.WriteString("ops, b's then c's:\n")
	for _, op := range whole.ops {
		fmt.Fprintf(&b, "  %s\n", liveOpString(op))
	}
	fmt.Fprintf(&b, "refused: %s\n", refusalsString(whole.refused))
	return b.String()
}

// clashesIn reports whether t holds a sibling of p whose name clashes.
func clashesIn(t tree, p string) bool {
	for q := range t {
		if q != p && wire.Parent(q) == wire.Parent(p) && FoldKey(wire.Base(q)) == FoldKey(wire.Base(p)) {
			return true
		}
	}
	return false
}
