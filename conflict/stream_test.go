package conflict

import (
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/peerlink/peerlink/wire"
)

// sliceStream is a Stream over entries held in memory.
type sliceStream []wire.Entry

func (s sliceStream) Entries() iter.Seq[wire.Entry] { return slices.Values(s) }

// compactInput is in as the hub gives it for a large session: every
// scan as a Stream (in tree order where sortScans says so, else as
// scanned), the last index as Sorted, the plan's index asked compact.
func compactInput(in Input, sortScans bool) Input {
	out := in
	out.Scans, out.Streams, out.Last, out.Compact = nil, map[string]Stream{}, nil, true
	for h, scan := range in.Scans {
		s := slices.Clone(scan)
		if sortScans {
			slices.SortStableFunc(s, func(a, b wire.Entry) int { return comparePaths(a.Path, b.Path) })
		}
		out.Streams[h] = sliceStream(s)
	}
	for _, p := range slices.SortedFunc(maps.Keys(in.Last), comparePaths) {
		rec := in.Last[p]
		if rec.Entry.Path != p {
			return Input{} // not expressible as Sorted
		}
		out.Sorted = append(out.Sorted, rec)
	}
	return out
}

// expanded returns p with its Table turned into the Index it stands for.
func expanded(p Plan) Plan {
	if p.Table == nil {
		return p
	}
	p.Index = map[string]Record{}
	for rec := range p.Table.All() {
		p.Index[rec.Entry.Path] = rec
	}
	p.Table = nil
	return p
}

// sameAsCompact says how Resolve of in differs from Resolve of its
// compact form ("" when it does not).
func sameAsCompact(in Input, sortScans bool) string {
	cin := compactInput(in, sortScans)
	if cin.Hosts == nil && in.Hosts != nil {
		return ""
	}
	want, got := Resolve(in), expanded(Resolve(cin))
	if reflect.DeepEqual(want, got) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "plain:\n%s\ncompact:\n%s", describePlan(want), describePlan(got))
	fmt.Fprintf(&b, "\nwarnings plain %q\nwarnings compact %q", want.Warnings, got.Warnings)
	for p, rec := range want.Index {
		if g, ok := got.Index[p]; !ok || !reflect.DeepEqual(g, rec) {
			fmt.Fprintf(&b, "\nindex %s: plain %+v, compact %+v (%v)", p, rec, g, ok)
		}
	}
	if len(want.Index) != len(got.Index) {
		fmt.Fprintf(&b, "\nindex sizes %d, %d", len(want.Index), len(got.Index))
	}
	return b.String()
}

// TestCompactInputGivesTheSamePlan: scans as streams (in tree order or
// not), the last index as Sorted and the index as a Table give the plan
// the plain input gives, for every generated session.
func TestCompactInputGivesTheSamePlan(t *testing.T) {
	iterations := 2000
	if testing.Short() {
		iterations = 300
	}
	w := &world{rng: rand.New(rand.NewPCG(13, 5))}
	for i := range iterations {
		in := w.input()
		sortScans := i%4 != 0
		if diff := sameAsCompact(in, sortScans); diff != "" {
			t.Fatalf("iteration %d (sorted scans %v):\n%s\n%s", i, sortScans, describe(in), diff)
		}
	}
}

func TestCompactMalformedScans(t *testing.T) {
	bad := wire.Entry{Path: "d/bad", Kind: 9}
	cases := []struct {
		name string
		in   Input
	}{{
		name: "a path listed twice, an entry that does not validate and a path that is not a watch-set path",
		in: Input{Hosts: []string{"a", "b"}, Scans: map[string][]wire.Entry{
			"a": {D("d"), F("d/x", "1", 1), F("d/x", "2", 2), bad, {Path: "../up", Kind: wire.KindFile}, F("e", "3", 3)},
			"b": {D("d"), F("d/x", "1", 1)},
		}, Last: map[string]Record{"d/x": R(F("d/x", "1", 1), "a", "b"), "gone": R(F("gone", "4", 1), "b")}},
	}, {
		name: "a scan out of tree order",
		in: Input{Hosts: []string{"a", "b"}, Scans: map[string][]wire.Entry{
			"a": {D("d-x"), D("d"), F("d/y", "1", 1), F("d/y", "1", 1)},
		}},
	}, {
		name: "a stream for a host that is not a participant",
		in:   Input{Hosts: []string{"a"}, Scans: map[string][]wire.Entry{"a": {D("d")}, "z": {D("d")}}},
	}}
	for _, c := range cases {
		for _, sorted := range []bool{true, false} {
			if diff := sameAsCompact(c.in, sorted); diff != "" {
				t.Errorf("%s (sorted %v):\n%s", c.name, sorted, diff)
			}
		}
	}
}

func TestIndexLookup(t *testing.T) {
	in := Input{Hosts: []string{"a", "b"}, Compact: true, Streams: map[string]Stream{
		"a": sliceStream{D("d"), F("d/x", "1", 1), F("d-y", "2", 1)},
		"b": sliceStream{D("d"), F("d/x", "1", 1)},
	}}
	p := Resolve(in)
	if p.Index != nil || p.Table == nil || p.IndexLen() != 3 {
		t.Fatalf("compact plan: Index %v, Table %v, IndexLen %d", p.Index, p.Table, p.IndexLen())
	}
	for _, c := range []struct {
		path  string
		hosts []string
		found bool
	}{{"d", []string{"a", "b"}, true}, {"d/x", []string{"a", "b"}, true}, {"d-y", []string{"a"}, true}, {"d/z", nil, false}, {"", nil, false}} {
		rec, ok := p.Lookup(c.path)
		if ok != c.found || ok && (rec.Entry.Path != c.path || !slices.Equal(rec.Hosts, c.hosts)) {
			t.Errorf("Lookup(%q) = %+v, %v; want hosts %v, %v", c.path, rec, ok, c.hosts, c.found)
		}
	}
	var order []string
	for rec := range p.Records() {
		order = append(order, rec.Entry.Path)
	}
	if want := []string{"d", "d/x", "d-y"}; !slices.Equal(order, want) {
		t.Errorf("Records in %q, want tree order %q", order, want)
	}
}

// freshStream yields its entries with every path a string of its own,
// made anew on each read, as the hub's spools do, and remembers where
// each lies.
type freshStream struct {
	entries []wire.Entry
	yielded map[*byte]bool
}

func (s *freshStream) Entries() iter.Seq[wire.Entry] {
	return func(yield func(wire.Entry) bool) {
		for _, e := range s.entries {
			e.Path = strings.Clone(e.Path)
			s.yielded[unsafe.StringData(e.Path)] = true
			if !yield(e) {
				return
			}
		}
	}
}

// The plan keeps no path string a stream handed out (Stream's contract,
// which lets a stream's paths share blocks that are garbage once read):
// its index's paths, the folders' included, are the engine's copies.
func TestCompactPlanKeepsNoStreamPath(t *testing.T) {
	f := func(p string) wire.Entry {
		return wire.Entry{Path: p, Kind: wire.KindFile, Size: 1, Mtime: epoch, Mode: 0o644}
	}
	d := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindDir, Mtime: epoch, Mode: 0o755} }
	scan := []wire.Entry{d("a"), d("a/b"), f("a/b/c"), f("a/d"), f("e")}
	in := Input{Hosts: []string{"x", "y"}, Streams: map[string]Stream{}, Compact: true}
	var streams []*freshStream
	for _, h := range in.Hosts {
		s := &freshStream{entries: scan, yielded: map[*byte]bool{}}
		streams = append(streams, s)
		in.Streams[h] = s
	}
	plan := Resolve(in)
	if plan.IndexLen() != len(scan) {
		t.Fatalf("the plan's index holds %d records, want %d", plan.IndexLen(), len(scan))
	}
	for rec := range plan.Records() {
		for i, s := range streams {
			if s.yielded[unsafe.StringData(rec.Entry.Path)] {
				t.Errorf("the record of %s keeps the path string stream %d handed out", rec.Entry.Path, i)
			}
		}
	}
}
