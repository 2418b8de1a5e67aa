package conflict

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// TestResolveProperties generates random sessions, applies each plan with
// the simulator, and checks what every plan must guarantee (checkPlan),
// plus the rules on content loss and offline conflicts stated
// independently of the engine below.
func TestResolveProperties(t *testing.T) {
	iterations := 2000
	if testing.Short() {
		iterations = 300
	}
	w := &world{rng: rand.New(rand.NewPCG(20240611, 4))}
	seen := map[string]int{}
	for i := range iterations {
		in := w.input()
		p := Resolve(in)
		after, errs := checkPlan(in, p)
		errs = append(errs, lostContent(in, p, after)...)
		errs = append(errs, unquarantinedConflicts(in, p)...)
		if !equalPlans(p, Resolve(shuffled(in, w.rng))) {
			errs = append(errs, "the same input in another order gave another plan")
		}
		if len(errs) > 0 {
			t.Fatalf("iteration %d:\n%s\nplan:\n%s\nfailures:\n%s", i, describe(in), describePlan(p), strings.Join(errs, "\n"))
		}
		tally(seen, p)
	}
	t.Logf("coverage over %d sessions: %v", iterations, seen)
	for _, k := range []string{"fetch", "meta", "mkdir", "delete", "rename",
		string(ReasonManual), string(ReasonOfflineEdit), string(ReasonKindMismatch),
		string(ReasonNameClash), string(ReasonDeleteEdit)} {
		if seen[k] == 0 {
			t.Errorf("no generated session produced a %s: the generator needs widening", k)
		}
	}
}

func tally(seen map[string]int, p Plan) {
	for _, ops := range p.Ops {
		for _, op := range ops {
			seen[op.Kind.String()]++
		}
	}
	for _, q := range p.Quarantines {
		seen[string(q.Reason)]++
	}
}

func describePlan(p Plan) string {
	var b strings.Builder
	for _, h := range slices.Sorted(mapsKeysOps(p.Ops)) {
		b.WriteString("  " + h + ": " + opStrings(p.Ops[h]) + "\n")
	}
	for _, q := range p.Quarantines {
		b.WriteString("  quarantine " + q.Path + " " + string(q.Reason) + ": " + q.Detail + "\n")
	}
	return b.String()
}

func mapsKeysOps(m map[string][]wire.Op) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// shuffled returns in with every scan in another order and every map
// rebuilt, which must not change the plan.
func shuffled(in Input, rng *rand.Rand) Input {
	out := in
	out.Scans = map[string][]wire.Entry{}
	for _, h := range slices.Backward(in.Hosts) {
		s := slices.Clone(in.Scans[h])
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		out.Scans[h] = s
	}
	if in.Last != nil {
		out.Last = map[string]Record{}
		keys := slices.Collect(mapKeysRec(in.Last))
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		for _, k := range keys {
			out.Last[k] = in.Last[k]
		}
	}
	return out
}

func mapKeysRec(m map[string]Record) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

type contentKey struct {
	size int64
	hash wire.Hash
}

// lostContent checks that no file content vanished from every host unless
// a rule says it may:
//   - Last Modified Time Wins overwrote it: the path ends with other content
//     that some host held there before with a modification time at least
//     as late (never under the Manual resolver);
//   - offline delete detection removed the path from every host: it had a
//     record, and either the delete master held it at the last run and no
//     longer has it, or (without a master) a host the record lists no
//     longer has it and this copy was still the record's content and time.
//
// Content that a rename moved elsewhere is found at its new path.
func lostContent(in Input, p Plan, after map[string]tree) []string {
	before := trees(in)
	q := quarantinedRoots(in, p)
	o := in.Options
	trunc := func(ns int64) int64 {
		if o.TruncateMs {
			return wholeSeconds(ns)
		}
		return ns
	}
	exists := map[contentKey]bool{}
	for _, t := range after {
		for _, e := range t {
			exists[contentKey{e.Size, e.Hash}] = true
		}
	}
	overwritten := func(path string, e wire.Entry) bool {
		if o.Resolver == Manual {
			return false
		}
		final, ok := after[in.Hosts[0]][path]
		if !ok || final.Kind != wire.KindFile || final.SameContent(e) {
			return false
		}
		for _, h := range in.Hosts {
			if b, ok := before[h][path]; ok && b.SameContent(final) && trunc(b.Mtime) >= trunc(e.Mtime) {
				return true
			}
		}
		return false
	}
	deleted := func(path string, e wire.Entry) bool {
		rec, ok := in.Last[path]
		if !o.OfflineDeleteDetection || !ok {
			return false
		}
		for _, h := range in.Hosts {
			if _, ok := after[h][path]; ok {
				return false
			}
		}
		gone := func(h string) bool {
			_, has := before[h][path]
			return !has && slices.Contains(rec.Hosts, h)
		}
		if o.DeleteMaster != "" {
			return slices.Contains(in.Hosts, o.DeleteMaster) && gone(o.DeleteMaster)
		}
		return slices.ContainsFunc(in.Hosts, gone) && e.SameContent(rec.Entry) && trunc(e.Mtime) == trunc(rec.Entry.Mtime)
	}
	var errs []string
	for _, h := range in.Hosts {
		for path, e := range before[h] {
			if e.Kind != wire.KindFile || underAny(path, q) || exists[contentKey{e.Size, e.Hash}] {
				continue
			}
			if !overwritten(path, e) && !deleted(path, e) {
				errs = append(errs, "lost: "+h+"'s "+path+" ("+e.Hash.String()[:6]+") exists nowhere after the plan, and no rule allows it")
			}
		}
	}
	return errs
}

// unquarantinedConflicts checks Quarantine Offline Version Conflicts: a
// file changed offline on two or more hosts to different contents must be
// quarantined, unless the delete master's deletion removes it.
func unquarantinedConflicts(in Input, p Plan) []string {
	o := in.Options
	if !o.QuarantineOfflineConflicts {
		return nil
	}
	before := trees(in)
	q := quarantinedRoots(in, p)
	trunc := func(ns int64) int64 {
		if o.TruncateMs {
			return wholeSeconds(ns)
		}
		return ns
	}
	var errs []string
	for path, rec := range in.Last {
		if rec.Entry.Kind != wire.KindFile || underAny(path, q) {
			continue
		}
		if m := o.DeleteMaster; m != "" && o.OfflineDeleteDetection && slices.Contains(in.Hosts, m) && slices.Contains(rec.Hosts, m) {
			if _, has := before[m][path]; !has {
				continue
			}
		}
		var changed []wire.Entry
		for _, h := range rec.Hosts {
			e, ok := before[h][path]
			if ok && !(e.SameContent(rec.Entry) && trunc(e.Mtime) == trunc(rec.Entry.Mtime)) {
				changed = append(changed, e)
			}
		}
		if slices.ContainsFunc(changed, func(e wire.Entry) bool { return !e.SameContent(changed[0]) }) {
			errs = append(errs, "offline conflict on "+path+" not quarantined")
		}
	}
	return errs
}
