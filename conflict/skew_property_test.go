package conflict

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// TestResolveWithoutSkewIsUnchanged: clocks that are all exact, or that
// belong to hosts outside the session, give exactly the plan of no clocks
// at all, for every generated session.
func TestResolveWithoutSkewIsUnchanged(t *testing.T) {
	iterations := 2000
	if testing.Short() {
		iterations = 300
	}
	w := &world{rng: rand.New(rand.NewPCG(20260311, 5))}
	for i := range iterations {
		in := w.input()
		want := Resolve(in)
		exact := in
		exact.Clocks = map[string]Clock{"outsider": {Offset: time.Hour, Error: time.Second}}
		for _, h := range in.Hosts {
			exact.Clocks[h] = Clock{}
		}
		if got := Resolve(exact); !equalPlans(got, want) {
			t.Fatalf("iteration %d: exact clocks changed the plan\n%s\nwithout clocks:\n%s\nwith exact clocks:\n%s",
				i, describe(in), describePlan(want), describePlan(got))
		}
	}
}

// TestResolveClockSkewProperties gives generated sessions random clocks and
// checks, besides everything every plan must guarantee, the clock skew
// rule stated independently of the engine: no path is decided between two
// edits whose times are closer than the skew of their hosts, and a clock
// skew quarantine always has two such edits behind it.
func TestResolveClockSkewProperties(t *testing.T) {
	iterations := 2000
	if testing.Short() {
		iterations = 300
	}
	w := &world{rng: rand.New(rand.NewPCG(20260311, 6))}
	seen := map[string]int{}
	for i := range iterations {
		in := w.input()
		in.Clocks = randomClocks(w.rng, in.Hosts)
		p := Resolve(in)
		after, errs := checkPlan(in, p)
		errs = append(errs, lostContent(in, p, after)...)
		errs = append(errs, unquarantinedConflicts(in, p)...)
		errs = append(errs, skewDecided(in, p)...)
		if !equalPlans(p, Resolve(shuffled(in, w.rng))) {
			errs = append(errs, "the same input in another order gave another plan")
		}
		if len(errs) > 0 {
			t.Fatalf("iteration %d:\nclocks %v\n%s\nplan:\n%s\nfailures:\n%s", i, in.Clocks, describe(in), describePlan(p), strings.Join(errs, "\n"))
		}
		tally(seen, p)
	}
	t.Logf("coverage over %d sessions: %v", iterations, seen)
	if seen[string(ReasonClockSkew)] == 0 || seen["fetch"] == 0 {
		t.Errorf("no generated session produced a clock skew quarantine and a fetch: the generator needs widening")
	}
}

func randomClocks(rng *rand.Rand, hosts []string) map[string]Clock {
	offsets := []time.Duration{0, 0, 300 * time.Millisecond, -2 * time.Second, 5 * time.Second}
	out := map[string]Clock{}
	for _, h := range hosts {
		c := Clock{Offset: offsets[rng.IntN(len(offsets))]}
		if rng.IntN(3) == 0 {
			c.Error = time.Duration(rng.IntN(200)) * time.Millisecond
		}
		out[h] = c
	}
	return out
}

// skewDecided checks the clock skew rule from the inputs and the plan
// alone. An edit is a file copy that no record accounts for, or that
// differs from its record (content, or time as the options compare it).
func skewDecided(in Input, p Plan) []string {
	before := trees(in)
	trunc := func(ns int64) int64 {
		if in.Options.TruncateMs {
			return wholeSeconds(ns)
		}
		return ns
	}
	edited := func(path string, e wire.Entry) bool {
		rec, ok := in.Last[path]
		return !ok || !e.SameContent(rec.Entry) || e.Kind == wire.KindFile && trunc(e.Mtime) != trunc(rec.Entry.Mtime)
	}
	skew := func(a, b string) time.Duration {
		d := in.Clocks[a].Offset - in.Clocks[b].Offset
		return max(d, -d) + in.Clocks[a].Error + in.Clocks[b].Error
	}
	// closePair reports two edits of path to different contents, the
	// first with content win (any content when win is nil), closer in
	// time than their hosts' skew.
	closePair := func(path string, win *wire.Entry) (string, bool) {
		for _, a := range in.Hosts {
			ea, ok := before[a][path]
			if !ok || ea.Kind != wire.KindFile || !edited(path, ea) || win != nil && !ea.SameContent(*win) {
				continue
			}
			for _, b := range in.Hosts {
				eb, ok := before[b][path]
				if !ok || eb.Kind != wire.KindFile || !edited(path, eb) || eb.SameContent(ea) {
					continue
				}
				if gap := time.Duration(ea.Mtime - eb.Mtime); max(gap, -gap) < skew(a, b) {
					return a + " and " + b, true
				}
			}
		}
		return "", false
	}
	var errs []string
	if in.Options.Resolver != LastModified {
		return nil
	}
	for path, rec := range p.Index {
		if rec.Entry.Kind != wire.KindFile {
			continue
		}
		if pair, ok := closePair(path, &rec.Entry); ok {
			errs = append(errs, "decided "+path+" between the edits of "+pair+", closer in time than their clocks' skew")
		}
	}
	for _, q := range p.Quarantines {
		if _, ok := closePair(q.Path, nil); q.Reason == ReasonClockSkew && !ok {
			errs = append(errs, "quarantined "+q.Path+" for clock skew without two close edits")
		}
	}
	return errs
}
