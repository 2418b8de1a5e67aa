//go:build linux

package agent

import (
	"errors"
	"os"
	"path/filepath"
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
		{"a hub that does not say", 0, nil},
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
// something made in it is refused; one planned after, or by a hub that
// does not say, is not.
func TestRefuseMadeIn(t *testing.T) {
	l, _ := newTestLive(t)
	l.noteSent(5, []wire.Change{{Kind: wire.ChangeMkdir, Path: "proj/new", Entry: wire.Entry{Path: "proj/new", Kind: wire.KindDir}}})
	for _, tc := range []struct {
		dir    string
		seen   uint64
		refuse bool
	}{
		{"proj", 4, true},
		{"proj", 5, false},
		{"proj", 0, false},
		{"pro", 4, false},
		{"proj/new", 4, false},
	} {
		err := l.refuseMadeIn(tc.dir, tc.seen)
		var we *wire.Error
		if refused := errors.As(err, &we) && we.Kind == wire.KindChanged; refused != tc.refuse || (err != nil) != tc.refuse {
			t.Errorf("removal of %s planned at %d: %v, want refused=%v", tc.dir, tc.seen, err, tc.refuse)
		}
	}
}
