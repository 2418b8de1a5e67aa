package hub

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// TestSpoolKeepsEveryEntry: a spool yields every entry added, in tree
// order and otherwise in the order added (entries whose path is not a
// watch-set path first), malformed entries included (the engine judges
// them), the same every time it is read, in one run or several; close
// removes its file.
func TestSpoolKeepsEveryEntry(t *testing.T) {
	in := []wire.Entry{
		{Path: "projects", Kind: wire.KindDir, Mtime: 1, Mode: 0o755},
		{Path: "projects/a.txt", Kind: wire.KindFile, Size: 3, Mtime: -5, Mode: 0o644, Hash: wire.Hash{1, 2, 3}},
		{Path: "projects/a.txt", Kind: wire.KindFile, Size: 0, Mtime: 1 << 62},
		{Path: "projects/b/ü.doc", Kind: wire.KindFile, Size: 1 << 40, Hash: wire.Hash{31: 9}},
		{Path: "p", Kind: 200, Size: -1, Mode: 0xffffffff},
		{Path: "", Kind: wire.KindDir},
		{Path: "projects-old", Kind: wire.KindDir},
		{Path: "../x", Kind: wire.KindFile},
	}
	want := []wire.Entry{in[5], in[7], in[4], in[0], in[1], in[2], in[3], in[6]}
	for _, runLen := range []int{defaultRunLen, 1, 2, 3} {
		s := testSpool(t, runLen)
		if err := s.add(in[:2]); err != nil {
			t.Fatal(err)
		}
		if err := s.add(in[2:]); err != nil {
			t.Fatal(err)
		}
		if err := s.done(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if got := slices.Collect(s.Entries()); !slices.Equal(got, want) || s.err != nil {
				t.Fatalf("runs of %d: spool yields\n%+v (err %v)\nwant\n%+v", runLen, got, s.err, want)
			}
		}
		var _ conflict.Stream = s
		name := s.f.Name()
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(name); !os.IsNotExist(err) {
			t.Errorf("spool file %s still there after close: %v", name, err)
		}
	}
}

// TestSpoolReadErrorIsKept: a spool cut short ends its entries and says
// why, so that the merge fails rather than take the rest as deleted.
func TestSpoolReadErrorIsKept(t *testing.T) {
	s, err := newSpool(t.TempDir(), "site-a")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := s.add([]wire.Entry{{Path: "a", Kind: wire.KindDir}, {Path: "a/b", Kind: wire.KindDir}}); err != nil {
		t.Fatal(err)
	}
	if err := s.done(); err != nil {
		t.Fatal(err)
	}
	if err := s.f.Truncate(9); err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(s.Entries()); len(got) != 1 || s.err == nil {
		t.Errorf("truncated spool yields %d entries, err %v; want 1 and an error", len(got), s.err)
	}
}

// TestSpoolDirIsPerSessionAndEmptied: a start-up's spools do not meet
// another session's, and one left by a stopped hub is removed.
func TestSpoolDirIsPerSessionAndEmptied(t *testing.T) {
	data := t.TempDir()
	a, err := spoolDir(data, "a")
	if err != nil {
		t.Fatal(err)
	}
	stale, err := newSpool(a, "h")
	if err != nil {
		t.Fatal(err)
	}
	b, err := spoolDir(data, "b")
	if err != nil || b == a {
		t.Fatalf("spoolDir b = %q, %v (a is %q)", b, err, a)
	}
	if _, err := os.Stat(stale.f.Name()); err != nil {
		t.Errorf("another session's spool was removed: %v", err)
	}
	if _, err := spoolDir(data, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale.f.Name()); !os.IsNotExist(err) {
		t.Errorf("a stale spool survived its session's next start-up: %v", err)
	}
	_ = stale.f.Close()
}

// TestSpoolHandsOutKnownPaths: a spool given the stored index (known)
// yields the same entries, with the index's own strings for the paths
// it holds (a path repeated, or not held, is a string of its own), in
// one run or several.
func TestSpoolHandsOutKnownPaths(t *testing.T) {
	f := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindFile, Mode: 0o644} }
	in := []wire.Entry{f("a"), f("a/b"), f("a/b"), f("a/c"), f("a-b"), f("new"), f("z/y")}
	var known []conflict.Record
	for _, p := range []string{"a", "a/b", "a/bb", "a/c", "a-b", "gone", "z", "z/y", "zz"} {
		known = append(known, conflict.Record{Entry: f(strings.Clone(p)), Hosts: []string{"site-a"}})
	}
	held := map[*byte]bool{}
	for _, rec := range known {
		held[unsafe.StringData(rec.Entry.Path)] = true
	}
	wantKnown := []bool{true, true, false, true, true, false, true}
	for _, runLen := range []int{defaultRunLen, 2, 3} {
		s := testSpool(t, runLen)
		if err := s.add(in); err != nil {
			t.Fatal(err)
		}
		if err := s.done(); err != nil {
			t.Fatal(err)
		}
		s.known = known
		for range 2 {
			got := slices.Collect(s.Entries())
			if !slices.Equal(got, in) || s.err != nil {
				t.Fatalf("runs of %d: spool yields\n%+v (err %v)\nwant\n%+v", runLen, got, s.err, in)
			}
			for i, e := range got {
				if held[unsafe.StringData(e.Path)] != wantKnown[i] {
					t.Errorf("runs of %d: entry %d (%s): the index's string %v, want %v", runLen, i, e.Path, !wantKnown[i], wantKnown[i])
				}
			}
		}
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
	}
}

// testSpool is a new spool of site-a's scan, in runs of runLen entries.
func testSpool(t *testing.T, runLen int) *spool {
	t.Helper()
	dir, err := spoolDir(t.TempDir(), "s")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSpool(dir, "site-a")
	if err != nil {
		t.Fatal(err)
	}
	s.runLen = runLen
	return s
}
