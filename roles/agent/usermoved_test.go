//go:build linux

package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// A file written just before a user renamed its folder, still settling
// then (make chaos, seed 80097), is reported at its new path, after the
// rename: at its old path, where nothing is any more, it was never
// reported, and its new content stayed here.
func TestSettlingFileFollowsAUsersFolderRename(t *testing.T) {
	l, root := newTestLive(t)
	put(t, root, "a/c/f3.bin", "written just before the rename")
	put(t, root, "a/cc.txt", "settling beside the folder")
	l.later("a/c/f3.bin")
	l.later("a/cc.txt")
	do(t, os.Rename(filepath.Join(root, "a", "c"), filepath.Join(root, "e")))
	l.onRename(context.Background(), watch.Event{Op: watch.Renamed, Path: "e", OldPath: "a/c", IsDir: true})
	if n := len(l.pending); n != 1 || l.pending[0].Kind != wire.ChangeRename {
		t.Fatalf("pending %+v, want the user's rename of a/c", l.pending)
	}
	var settling []string
	for _, it := range l.settleQ {
		if at, ok := l.settle[it.path]; ok && at.Equal(it.at) {
			settling = append(settling, it.path)
		}
	}
	if want := []string{"a/cc.txt", "e/f3.bin"}; !slices.Equal(settling, want) {
		t.Errorf("settling %v, want %v", settling, want)
	}
}

// A file written just before a user renamed its folder, whose close the
// loop sees after the rename, under its old path (make chaos, seed 80097,
// rerun), is reported at its new path; a file simply gone is not.
func TestLateCloseFollowsAUsersFolderRename(t *testing.T) {
	l, root := newTestLive(t)
	put(t, root, "a/c/f3.bin", "written just before the rename")
	do(t, os.Rename(filepath.Join(root, "a", "c"), filepath.Join(root, "e")))
	l.onRename(context.Background(), watch.Event{Op: watch.Renamed, Path: "e", OldPath: "a/c", IsDir: true})
	l.report("a/c/f3.bin")
	l.report("a/gone.txt")
	var settling []string
	for p := range l.settle {
		settling = append(settling, p)
	}
	if want := []string{"e/f3.bin"}; !slices.Equal(settling, want) {
		t.Errorf("settling %v, want %v", settling, want)
	}
}

// A file written just before a user renamed its folder that settled
// before the loop handled the rename's event (make chaos, seed 80097,
// rerun: the report found it gone, the rename not known yet) is reported
// at its new path once the event comes.
func TestFileSettledBeforeItsFolderRenameEventFollowsIt(t *testing.T) {
	l, root := newTestLive(t)
	put(t, root, "a/c/f3.bin", "written just before the rename")
	do(t, os.Rename(filepath.Join(root, "a", "c"), filepath.Join(root, "e")))
	l.report("a/c/f3.bin") // settled; the rename's event is still queued
	if len(l.pending) != 0 || len(l.settle) != 0 {
		t.Fatalf("pending %+v, settling %v: want nothing yet", l.pending, l.settle)
	}
	l.onRename(context.Background(), watch.Event{Op: watch.Renamed, Path: "e", OldPath: "a/c", IsDir: true})
	var settling []string
	for p := range l.settle {
		settling = append(settling, p)
	}
	if want := []string{"e/f3.bin"}; !slices.Equal(settling, want) {
		t.Errorf("settling %v, want %v", settling, want)
	}
}
