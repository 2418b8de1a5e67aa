//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// A folder rename of the hub's that moved paths this host reported after
// the hub planned it: those paths, the highest of each subtree only, are
// reported again as renamed, and the files settling there will be
// reported at their new paths; what the hub had handled is not.
func TestMovedByHubReportsWhatTheHubDidNotKnow(t *testing.T) {
	for _, tc := range []struct {
		name string
		seen uint64
		want []wire.Change
	}{
		{"reported after the hub planned", 4, []wire.Change{{Kind: wire.ChangeRename, Path: "moved/new", OldPath: "proj/new"}}},
		{"everything handled", 5, nil},
		{"nothing handled yet", 0, []wire.Change{
			{Kind: wire.ChangeRename, Path: "moved/new", OldPath: "proj/new"},
			{Kind: wire.ChangeRename, Path: "moved/old.txt", OldPath: "proj/old.txt"},
		}},
		{"a hub that does not say", seenUnknown, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, root := newTestLive(t)
			for _, d := range []string{"proj/new"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"proj/new/f.txt", "proj/old.txt", "proj/settling.txt"} {
				if err := os.WriteFile(filepath.Join(root, f), []byte(f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			entry := func(p string) wire.Entry {
				info, err := l.s.tree.Lstat(p)
				if err != nil {
					t.Fatal(err)
				}
				return info.Entry(p)
			}
			l.noteSent(3, []wire.Change{{Kind: wire.ChangeWrite, Path: "proj/old.txt", Entry: entry("proj/old.txt")}})
			l.noteSent(5, []wire.Change{
				{Kind: wire.ChangeMkdir, Path: "proj/new", Entry: entry("proj/new")},
				{Kind: wire.ChangeWrite, Path: "proj/new/f.txt", Entry: entry("proj/new/f.txt")},
			})
			l.later("proj/settling.txt")
			if err := os.Rename(filepath.Join(root, "proj"), filepath.Join(root, "moved")); err != nil {
				t.Fatal(err)
			}
			l.movedByHub("proj", "moved", tc.seen)
			got := l.movedAgain()
			if len(got) != len(tc.want) {
				t.Fatalf("reported again: %+v, want %+v", got, tc.want)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Kind != w.Kind || g.Path != w.Path || g.OldPath != w.OldPath || g.Entry != entry(w.Path) {
					t.Errorf("reported again: %+v, want %+v with the entry at its new path", g, w)
				}
			}
			if _, ok := l.settle["moved/settling.txt"]; !ok {
				t.Errorf("settling files: %v, want moved/settling.txt", l.settle)
			}
			if _, ok := l.settle["proj/settling.txt"]; ok {
				t.Errorf("a settling file is still waiting at its old path")
			}
		})
	}
}

// A folder's removal that the hub planned before it handled a report of
// something made in it takes everything else: what was made stays, with
// the folders above it. One planned after, or by a hub that does not say,
// finds nothing to keep.
func TestRemovalKeepsWhatWasMadeInIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		seen uint64
		keep bool
	}{
		{"planned before the report", 4, true},
		{"planned after it", 5, false},
		{"a hub that does not say", seenUnknown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, root := newTestLive(t)
			for _, d := range []string{"proj/sub/new", "proj/old-dir"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"proj/old.txt", "proj/old-dir/x", "proj/sub/old.txt", "proj/sub/new/f.txt"} {
				if err := os.WriteFile(filepath.Join(root, f), []byte(f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			l.noteSent(3, []wire.Change{{Kind: wire.ChangeWrite, Path: "proj/old.txt"}})
			l.noteSent(5, []wire.Change{{Kind: wire.ChangeMkdir, Path: "proj/sub/new", Entry: wire.Entry{Path: "proj/sub/new", Kind: wire.KindDir}}})
			keep := l.madeIn("proj", tc.seen, &wire.Entry{Path: "proj", Kind: wire.KindDir})
			if (len(keep) > 0) != tc.keep {
				t.Fatalf("made in it since: %v, want some=%v", keep, tc.keep)
			}
			if !tc.keep {
				return
			}
			if err := l.a.removeAllBut(l.s, "proj", keep); err != nil {
				t.Fatal(err)
			}
			var left []string
			filepath.WalkDir(filepath.Join(root, "proj"), func(p string, d os.DirEntry, err error) error {
				rel, _ := filepath.Rel(root, p)
				left = append(left, rel)
				return nil
			})
			want := []string{"proj", "proj/sub", "proj/sub/new", "proj/sub/new/f.txt"}
			if !slices.Equal(left, want) {
				t.Errorf("left %v, want %v", left, want)
			}
		})
	}
}

// Two folder renames of the hub's followed at once: what the first moved,
// the second moves on, and it is reported again at its last place.
func TestMovedByHubTwice(t *testing.T) {
	l, root := newTestLive(t)
	if err := os.MkdirAll(filepath.Join(root, "proj/new"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.noteSent(5, []wire.Change{{Kind: wire.ChangeMkdir, Path: "proj/new", Entry: wire.Entry{Path: "proj/new", Kind: wire.KindDir}}})
	for _, mv := range [][2]string{{"proj", "moved"}, {"moved", "final"}} {
		if err := os.Rename(filepath.Join(root, mv[0]), filepath.Join(root, mv[1])); err != nil {
			t.Fatal(err)
		}
		l.movedByHub(mv[0], mv[1], 4)
	}
	got := l.movedAgain()
	if len(got) != 1 || got[0].OldPath != "proj/new" || got[0].Path != "final/new" {
		t.Fatalf("reported again: %+v, want proj/new renamed to final/new", got)
	}
}
