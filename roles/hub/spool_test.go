package hub

import (
	"os"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// TestSpoolKeepsEveryEntry: what a spool yields is what was added, in
// order, every time it is read, malformed entries included (the engine
// judges them), and close removes its file.
func TestSpoolKeepsEveryEntry(t *testing.T) {
	dir, err := spoolDir(t.TempDir(), "s")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSpool(dir, "site-a")
	if err != nil {
		t.Fatal(err)
	}
	in := []wire.Entry{
		{Path: "projects", Kind: wire.KindDir, Mtime: 1, Mode: 0o755},
		{Path: "projects/a.txt", Kind: wire.KindFile, Size: 3, Mtime: -5, Mode: 0o644, Hash: wire.Hash{1, 2, 3}},
		{Path: "projects/a.txt", Kind: wire.KindFile, Size: 0, Mtime: 1 << 62},
		{Path: "projects/b/ü.doc", Kind: wire.KindFile, Size: 1 << 40, Hash: wire.Hash{31: 9}},
		{Path: "p", Kind: 200, Size: -1, Mode: 0xffffffff},
		{Path: "", Kind: wire.KindDir},
	}
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
		if got := slices.Collect(s.Entries()); !slices.Equal(got, in) {
			t.Fatalf("spool yields\n%+v\nwant\n%+v", got, in)
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
