//go:build linux

package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// Events a user's changes made before a hub's folder rename applied here,
// handled after it, are handled where the rename moved them, until the
// rename's own event; then the old path is a user's again. A rename that
// failed moves nothing (make chaos, seed 5533).
func TestEventsBeforeAHubRenameFollowIt(t *testing.T) {
	ctx := context.Background()
	l, root := newTestLive(t)
	for _, d := range []string{"proj/c/d1", "other"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The user made proj/c/d1 and wrote proj/c/f.txt; then the hub's
	// rename of proj to moved is applied.
	if err := os.WriteFile(filepath.Join(root, "proj/c/f.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := l.renaming("proj", "moved")
	if err := os.Rename(filepath.Join(root, "proj"), filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	done(nil)
	// A failed rename of the hub's moves nothing.
	l.renaming("other", "elsewhere")(errors.New("refused"))

	l.handle(ctx, watch.Event{Op: watch.Created, Path: "proj/c/d1", IsDir: true})
	l.handle(ctx, watch.Event{Op: watch.Created, Path: "proj/c/f.txt"})
	l.handle(ctx, watch.Event{Op: watch.Removed, Path: "proj/c/gone.txt"})
	l.handle(ctx, watch.Event{Op: watch.Removed, Path: "other/gone.txt"})
	want := []wire.Change{
		{Kind: wire.ChangeMkdir, Path: "moved/c/d1"},
		{Kind: wire.ChangeRemove, Path: "moved/c/gone.txt"},
		{Kind: wire.ChangeRemove, Path: "other/gone.txt"},
	}
	if len(l.pending) != len(want) {
		t.Fatalf("reported %+v, want %+v", l.pending, want)
	}
	for i, w := range want {
		if g := l.pending[i]; g.Kind != w.Kind || g.Path != w.Path {
			t.Errorf("change %d: %v %s, want %v %s", i, g.Kind, g.Path, w.Kind, w.Path)
		}
	}
	if _, ok := l.settle["moved/c/f.txt"]; !ok {
		t.Errorf("settling: %v, want moved/c/f.txt", l.settle)
	}

	// The rename's own event ends it: a removal at the old path after it
	// is a user's, there (no expectation of the hub's rename is set here,
	// which would take it for the rename's echo).
	l.pending = nil
	l.handle(ctx, watch.Event{Op: watch.Renamed, OldPath: "proj", Path: "moved", IsDir: true})
	l.handle(ctx, watch.Event{Op: watch.Removed, Path: "proj/new.txt"})
	if n := len(l.pending); n == 0 || l.pending[n-1].Kind != wire.ChangeRemove || l.pending[n-1].Path != "proj/new.txt" {
		t.Errorf("after the rename's own event: %+v, want the removal of proj/new.txt last", l.pending)
	}
	if len(l.unwatched) != 0 {
		t.Errorf("renames still waiting for their event: %+v", l.unwatched)
	}
}
