//go:build linux

package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// An op the hub planned at a folder's old place before it handled the
// report of that folder's rename here (make chaos, seed 71048) is not
// made at the old place: below the folder a fetch or a delete is refused
// (the hub's lag repair brings it to the new place once it moved the path
// with the rename), a mkdir is made at the new place, and a mkdir of the
// folder itself is done already. An op
// planned after the hub handled the report, or by a hub that does not
// say, is applied where it says. The fetched content comes inline with
// the Apply, so no broker is needed.
func TestOpsPlannedBeforeAFolderRenameHere(t *testing.T) {
	content := []byte("hello")
	file := wire.Entry{Path: "b/f1.txt", Kind: wire.KindFile, Size: int64(len(content)), Mtime: 1e9, Mode: 0o644, Hash: sha256.Sum256(content)}
	inline := &wire.Inline{N: len(content), Len: len(content)}
	sub := wire.Entry{Path: "b/sub", Kind: wire.KindDir, Mode: 0o755}
	for _, tc := range []struct {
		name    string
		op      wire.Op
		seen    uint64
		refused bool
		oldMade bool // the folder's old place exists afterwards
	}{
		{"a fetch into the folder planned before the rename's report", wire.Op{Kind: wire.OpFetch, Path: "b/f1.txt", From: "site-c", Want: file, Inline: inline}, 4, true, false},
		{"a fetch into it planned after", wire.Op{Kind: wire.OpFetch, Path: "b/f1.txt", From: "site-c", Want: file, Inline: inline}, 5, false, true},
		{"a mkdir in it planned before, made at the new place", wire.Op{Kind: wire.OpMkdir, Path: "b/sub", Want: sub}, 4, false, false},
		{"a delete in it planned before", wire.Op{Kind: wire.OpDelete, Path: "b/x", Have: &wire.Entry{Path: "b/x", Kind: wire.KindFile}}, 4, true, false},
		{"a mkdir of the folder itself planned before", wire.Op{Kind: wire.OpMkdir, Path: "b", Want: wire.Entry{Path: "b", Kind: wire.KindDir, Mode: 0o755}}, 4, false, false},
		{"a mkdir in it planned after", wire.Op{Kind: wire.OpMkdir, Path: "b/sub", Want: sub}, 5, false, true},
		{"a mkdir in it by a hub that does not say", wire.Op{Kind: wire.OpMkdir, Path: "b/sub", Want: sub}, seenUnknown, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, root := newTestLive(t)
			s := l.s
			s.live = l
			put(t, root, "b/x", "kept")
			do(t, os.Rename(filepath.Join(root, "b"), filepath.Join(root, "e")))
			info, err := s.tree.Lstat("e")
			do(t, err)
			l.noteSent(5, []wire.Change{{Kind: wire.ChangeRename, Path: "e", OldPath: "b", Entry: info.Entry("e")}})

			ctx := l.a.withInline(context.Background(), &wire.Apply{Session: s.name, Ops: []wire.Op{tc.op}}, content)
			res, staged := l.a.applyOne(ctx, nil, s, &tc.op, tc.seen, func(int64) {})
			if staged != nil {
				_, err := s.tree.Sync()
				do(t, err)
				do(t, staged.Err())
			}
			switch {
			case tc.refused && (res.Error == nil || res.Error.Kind != wire.KindChanged):
				t.Errorf("result %+v, want refused as changed", res)
			case !tc.refused && res.Error != nil:
				t.Errorf("refused: %v", res.Error)
			}
			_, err = os.Lstat(filepath.Join(root, "b"))
			if made := err == nil; made != tc.oldMade {
				t.Errorf("the folder's old place exists: %v, want %v", made, tc.oldMade)
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if _, err := os.Lstat(filepath.Join(root, "e", "x")); err != nil {
				t.Errorf("the renamed folder's file: %v", err)
			}
			if tc.op.Kind == wire.OpMkdir && tc.op.Path == "b/sub" && !tc.oldMade {
				if info, err := os.Lstat(filepath.Join(root, "e", "sub")); err != nil || !info.IsDir() {
					t.Errorf("the folder at the new place: %v", err)
				}
			}
		})
	}
}

// A fetch into a folder removed here and made again by a user, planned
// before the hub handled the removal's report (make chaos, seed 90038), is
// refused: landed in the new folder, it would be taken for this host's
// copy, and removed everywhere with the folder. One planned after lands.
// A whole scan that supersedes the reports (the start-up's) forgets the
// removal: the hub plans from the scan, which saw it.
func TestFetchPlannedBeforeAFolderRemovalHere(t *testing.T) {
	content := []byte("hello")
	file := wire.Entry{Path: "b/f1.txt", Kind: wire.KindFile, Size: int64(len(content)), Mtime: 1e9, Mode: 0o644, Hash: sha256.Sum256(content)}
	for _, tc := range []struct {
		name    string
		seen    uint64
		scanned bool // a superseding scan marked since the removal
		refused bool
	}{
		{"planned before the removal's report", 4, false, true},
		{"planned after it", 5, false, false},
		{"planned from a scan that saw it", 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, root := newTestLive(t)
			s := l.s
			s.live = l
			put(t, root, "b/x", "removed")
			do(t, os.RemoveAll(filepath.Join(root, "b")))
			l.noteSent(5, []wire.Change{{Kind: wire.ChangeRemove, Path: "b/x"}, {Kind: wire.ChangeRemove, Path: "b"}})
			do(t, os.Mkdir(filepath.Join(root, "b"), 0o755)) // a user's, reported later
			if tc.scanned {
				m := scanMark{forget: true, reply: make(chan uint64, 1)}
				l.serveMark(context.Background(), m)
				<-m.reply
			}
			op := wire.Op{Kind: wire.OpFetch, Path: "b/f1.txt", From: "site-c", Want: file, Inline: &wire.Inline{N: len(content), Len: len(content)}}
			ctx := l.a.withInline(context.Background(), &wire.Apply{Session: s.name, Ops: []wire.Op{op}}, content)
			res, staged := l.a.applyOne(ctx, nil, s, &op, tc.seen, func(int64) {})
			if staged != nil {
				_, err := s.tree.Sync()
				do(t, err)
				do(t, staged.Err())
			}
			if refused := res.Error != nil && res.Error.Kind == wire.KindChanged; refused != tc.refused {
				t.Errorf("result %+v, want refused %v", res, tc.refused)
			}
			_, err := os.Lstat(filepath.Join(root, "b", "f1.txt"))
			if landed := err == nil; landed == tc.refused {
				t.Errorf("the file landed in the folder made again: %v, want %v", landed, !tc.refused)
			}
		})
	}
}

// An op whose folder is missing here, the folder's rename handled by the
// loop but not yet sent (make chaos, seed 71048, rerun), waits for the
// loop to send what it holds, and is then refused as planned before the
// rename's report.
func TestOpWhoseFolderIsMissingWaitsForTheLoopsReports(t *testing.T) {
	l, root := newTestLive(t)
	s := l.s
	s.live = l
	l.marks = make(chan scanMark)
	put(t, root, "b/x", "moved")
	do(t, os.Rename(filepath.Join(root, "b"), filepath.Join(root, "e")))
	l.onRename(context.Background(), watch.Event{Op: watch.Renamed, Path: "e", OldPath: "b", IsDir: true})
	served := make(chan bool, 1)
	go func() {
		// The loop's side of a mark, but for the broker: what it holds
		// is sent as Changes 5.
		m := <-l.marks
		l.noteSent(5, l.pending)
		l.pending = nil
		m.reply <- 5
		served <- true
	}()
	op := wire.Op{Kind: wire.OpDelete, Path: "b/x", Have: &wire.Entry{Path: "b/x", Kind: wire.KindFile}}
	res, _ := l.a.applyOne(context.Background(), nil, s, &op, 4, func(int64) {})
	select {
	case <-served:
	default:
		t.Fatal("the op did not wait for the loop's reports")
	}
	if res.Error == nil || res.Error.Kind != wire.KindChanged {
		t.Errorf("result %+v, want refused as changed", res)
	}
	if _, err := os.Lstat(filepath.Join(root, "e", "x")); err != nil {
		t.Errorf("the renamed folder's file: %v", err)
	}
}

// A mkdir below a folder removed here, planned before the hub handled the
// removal's report (make chaos, seed 110095), is done but not made: the
// hub removes it everywhere with the folder, as this host's. Made, with
// the removed folders above it, it stayed here alone, its echo hidden as
// the op's. It is not refused either (a folder's lag: seed 5122). One
// planned after the report, or by a hub that does not say, is made.
func TestMkdirPlannedBeforeAFolderRemovalHere(t *testing.T) {
	sub := wire.Entry{Path: "b/c/sub", Kind: wire.KindDir, Mode: 0o755}
	for _, tc := range []struct {
		name string
		seen uint64
		made bool
	}{
		{"planned before the removal's report", 4, false},
		{"planned after it", 5, true},
		{"by a hub that does not say", seenUnknown, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, root := newTestLive(t)
			s := l.s
			s.live = l
			put(t, root, "b/c/x", "removed")
			do(t, os.RemoveAll(filepath.Join(root, "b")))
			l.noteSent(5, []wire.Change{{Kind: wire.ChangeRemove, Path: "b/c/x"}, {Kind: wire.ChangeRemove, Path: "b/c"}, {Kind: wire.ChangeRemove, Path: "b"}})
			op := wire.Op{Kind: wire.OpMkdir, Path: sub.Path, Want: sub}
			res, _ := l.a.applyOne(context.Background(), nil, s, &op, tc.seen, func(int64) {})
			if res.Error != nil {
				t.Errorf("refused: %v", res.Error)
			}
			_, err := os.Lstat(filepath.Join(root, "b", "c", "sub"))
			if made := err == nil; made != tc.made {
				t.Errorf("the folder made: %v, want %v", made, tc.made)
			}
			if _, err := os.Lstat(filepath.Join(root, "b")); (err == nil) != tc.made {
				t.Errorf("the removed folder made again: %v, want %v", err == nil, tc.made)
			}
		})
	}
}
