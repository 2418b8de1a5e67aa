package synthagent

import (
	"slices"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func walkAll(t *testing.T, tr Tree, batch int) ([]wire.Entry, wire.ScanStats) {
	t.Helper()
	var all []wire.Entry
	st, err := tr.Walk(batch, func(b []wire.Entry) error {
		if len(b) == 0 || len(b) > batch {
			t.Fatalf("batch of %d entries, want 1 to %d", len(b), batch)
		}
		all = append(all, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all, st
}

func TestWalkGeneratesAValidDeterministicTree(t *testing.T) {
	tr := Tree{Files: 1234, PerDir: 10, Seed: 7}
	a, st := walkAll(t, tr, 100)
	b, _ := walkAll(t, tr, 37)
	if !slices.Equal(a, b) {
		t.Fatal("two walks of the same tree differ")
	}
	// 1234 files in 124 folders of 10, in 13 groups of 10 folders, under
	// one top folder.
	if st.Files != 1234 || st.Dirs != 1+13+124 || int(st.Files+st.Dirs) != len(a) {
		t.Fatalf("stats %+v for %d entries", st, len(a))
	}
	seen := map[string]bool{}
	for i, e := range a {
		if err := e.Validate(); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if seen[e.Path] {
			t.Fatalf("path %s twice", e.Path)
		}
		seen[e.Path] = true
		if i > 0 && a[i-1].Path >= e.Path {
			t.Fatalf("%s after %s: not in path order", e.Path, a[i-1].Path)
		}
	}
	for _, i := range []int{0, 9, 10, 1233} {
		if !seen[tr.FilePath(i)] {
			t.Errorf("FilePath(%d) = %s, not a generated path", i, tr.FilePath(i))
		}
	}
	if c, _ := walkAll(t, Tree{Files: 1234, PerDir: 10, Seed: 8}, 100); slices.Equal(a, c) {
		t.Error("another seed gave the same tree")
	}
}
