package conflict

import (
	"iter"
	"maps"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestGuardTrip(t *testing.T) {
	def := Guard{Percent: 50, Min: 1000}
	small := Guard{Percent: 50, Min: 5}
	for _, tc := range []struct {
		name           string
		g              Guard
		deleted, total int
		empty          bool
		want           string
	}{
		{"nothing deleted never trips", def, 0, 5000, false, ""},
		{"an empty session never trips", def, 0, 0, true, ""},
		{"many files but under the share pass", def, 2000, 5000, false, ""},
		{"exactly the share passes", def, 2500, 5000, false, ""},
		{"over the share and over the count trips", def, 2501, 5000, false, HeldMassDelete},
		{"over the share but under the count passes", def, 999, 1000, false, ""},
		{"the count itself and over the share trips", def, 1000, 1000, false, HeldMassDelete},
		{"an emptied root trips whatever share it held", def, 1000, 100000, true, HeldEmptyRoot},
		{"an emptied root under the count passes", def, 3, 10, true, ""},
		{"a small guard trips on an emptied root", small, 5, 10, true, HeldEmptyRoot},
		{"a small guard trips on a small burst", small, 8, 10, false, HeldMassDelete},
		{"a small guard passes a small delete", small, 2, 10, false, ""},
		{"a small guard passes a burst under its count", small, 4, 6, false, ""},
		{"a guard at 100 percent is off", Guard{Percent: 100, Min: 1}, 10, 10, false, ""},
		{"a guard at 100 percent is off for an empty root", Guard{Percent: 100, Min: 1}, 10, 10, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, tripped := tc.g.Trip(tc.deleted, tc.total, tc.empty)
			if got != tc.want || tripped != (tc.want != "") {
				t.Fatalf("Trip(%d, %d, %v) = %q, %v; want %q", tc.deleted, tc.total, tc.empty, got, tripped, tc.want)
			}
		})
	}
}

func TestScanDeletes(t *testing.T) {
	f := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindFile, Size: 1} }
	d := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindDir} }
	last := map[string]Record{
		"a":     {Entry: f("a"), Hosts: []string{"x", "y"}},
		"b":     {Entry: f("b"), Hosts: []string{"x", "y"}},
		"dir":   {Entry: d("dir"), Hosts: []string{"x", "y"}},
		"dir/c": {Entry: f("dir/c"), Hosts: []string{"x", "y"}},
		"new":   {Entry: f("new"), Hosts: []string{"y"}}, // never reached x
		"q":     {Entry: f("q"), Hosts: []string{"x", "y"}},
	}
	for _, tc := range []struct {
		name      string
		scan      []wire.Entry
		skip      func(string) bool
		wantPaths []string
		wantFiles int
	}{
		{"a full scan deletes nothing", []wire.Entry{f("a"), f("b"), d("dir"), f("dir/c"), f("q")}, nil, nil, 0},
		{"an empty scan deletes all the host held", nil, nil, []string{"a", "b", "dir", "dir/c", "q"}, 4},
		{"a path the host never held is no deletion", []wire.Entry{f("a"), f("b"), d("dir"), f("dir/c"), f("q")}, nil, nil, 0},
		{"a deleted folder counts its files", []wire.Entry{f("a"), f("b"), f("q")}, nil, []string{"dir", "dir/c"}, 1},
		{"skipped paths are not counted", nil, func(p string) bool { return p == "q" }, []string{"a", "b", "dir", "dir/c"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, files := ScanDeletes("x", tc.scan, last, tc.skip)
			if files != tc.wantFiles || len(got) != len(tc.wantPaths) {
				t.Fatalf("got %v (%d files); want %v (%d files)", got, files, tc.wantPaths, tc.wantFiles)
			}
			for _, p := range tc.wantPaths {
				if got[p] != last[p].Entry {
					t.Fatalf("%s: got %+v; want the index's %+v", p, got[p], last[p].Entry)
				}
			}
		})
	}
	if n := TrackedFiles(last); n != 5 {
		t.Fatalf("TrackedFiles = %d; want 5", n)
	}
	if n := HeldFiles("x", last); n != 4 {
		t.Fatalf("HeldFiles(x) = %d; want 4", n)
	}
}

// countedStream is a Stream that counts how often it is read.
type countedStream struct {
	entries []wire.Entry
	reads   int
}

func (s *countedStream) Entries() iter.Seq[wire.Entry] {
	s.reads++
	return slices.Values(s.entries)
}

// StreamDeletes finds what ScanDeletes finds, for a scan in tree order
// (read once), out of order (read again into a set) or against an empty
// index (not read at all).
func TestStreamDeletesAgreesWithScanDeletes(t *testing.T) {
	f := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindFile, Size: 1} }
	d := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindDir} }
	xy := []string{"x", "y"}
	lastMap := map[string]Record{
		"a": {Entry: f("a"), Hosts: xy}, "a-b": {Entry: f("a-b"), Hosts: xy},
		"a/c": {Entry: f("a/c"), Hosts: xy}, "dir": {Entry: d("dir"), Hosts: xy},
		"dir/c": {Entry: f("dir/c"), Hosts: xy}, "new": {Entry: f("new"), Hosts: []string{"y"}},
		"q": {Entry: f("q"), Hosts: xy}, "z": {Entry: f("z"), Hosts: xy},
	}
	var last []Record
	for _, p := range lastOrder(lastMap) {
		last = append(last, lastMap[p])
	}
	for _, tc := range []struct {
		name  string
		scan  []wire.Entry
		reads int
	}{
		{"in tree order, a folder's contents before a sibling with a dash", []wire.Entry{d("a"), f("a/c"), f("q")}, 1},
		{"in tree order, everything kept", []wire.Entry{f("a"), f("a/c"), f("a-b"), d("dir"), f("dir/c"), f("q"), f("z")}, 1},
		{"in tree order, nothing kept", nil, 1},
		{"in tree order past the index's end", []wire.Entry{f("a"), f("zz")}, 1},
		{"out of order at its start", []wire.Entry{f("q"), f("a"), f("dir/c")}, 2},
		{"out of order after a merged part", []wire.Entry{f("a"), f("a/c"), f("z"), f("dir/c")}, 2},
		{"in byte order, not tree order", []wire.Entry{f("a"), f("a-b"), f("a/c")}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skip := func(p string) bool { return p == "z" }
			want, wantFiles := ScanDeletes("x", tc.scan, lastMap, skip)
			s := &countedStream{entries: tc.scan}
			got, files := StreamDeletes("x", s, last, skip)
			if !maps.Equal(got, want) || files != wantFiles {
				t.Fatalf("StreamDeletes = %v (%d files); ScanDeletes = %v (%d files)", got, files, want, wantFiles)
			}
			if s.reads != tc.reads {
				t.Errorf("the stream was read %d times, want %d", s.reads, tc.reads)
			}
		})
	}
	s := &countedStream{entries: []wire.Entry{f("a")}}
	if got, files := StreamDeletes("x", s, nil, nil); len(got) != 0 || files != 0 || s.reads != 0 {
		t.Errorf("against an empty index: %v (%d files) after %d reads; want nothing, unread", got, files, s.reads)
	}
}
