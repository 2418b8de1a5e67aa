//go:build linux

package agent

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// The agent's own fetches, one after another at once (a writer elsewhere
// saving again and again), are echoes whichever of them the watcher's late
// event finds on disk: the file at any of the last maxEarlier+1 versions
// the agent fetched is its own; at any other version (a user's write) it is
// not.
func TestEchoOfAnyRecentFetch(t *testing.T) {
	l, root := newTestLive(t)
	rng := rand.New(rand.NewPCG(3, 4))
	p := filepath.Join(root, "grow.log")
	base := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	var fetched []wire.Entry
	put := func(size int, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(p, []byte(strings.Repeat("x", size)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		v := wire.Entry{Path: "grow.log", Kind: wire.KindFile, Size: int64(100 + 10*i), Mtime: base.Add(time.Duration(i) * time.Second).UnixNano()}
		l.expectChange("grow.log", expectation{entry: v})
		fetched = append(fetched, v)
		// The watcher looks at some version: one fetched lately, one
		// fetched long before, or one nobody fetched.
		j := rng.IntN(len(fetched))
		switch rng.IntN(3) {
		case 0:
			put(int(fetched[j].Size), time.Unix(0, fetched[j].Mtime))
			want := j >= len(fetched)-(maxEarlier+1)
			if got := l.echo("grow.log"); got != want {
				t.Fatalf("after %d fetches, the file at fetch %d: echo %v, want %v", len(fetched), j, got, want)
			}
		default:
			put(int(fetched[j].Size)+5, time.Unix(0, fetched[j].Mtime))
			if l.echo("grow.log") {
				t.Fatalf("after %d fetches, a user's version (size %d) taken for an echo", len(fetched), fetched[j].Size+5)
			}
		}
	}
	// A deletion expected after them replaces what was expected of the
	// file: a file there now is somebody's.
	l.expectChange("grow.log", expectation{gone: true})
	last := fetched[len(fetched)-1]
	put(int(last.Size), time.Unix(0, last.Mtime))
	if l.echo("grow.log") {
		t.Error("a file where the agent's own delete left none taken for an echo")
	}
}

// A folder replaced by a file (a resolution, a start): the ops delete the
// folder, then fetch the file. The folder's removal, seen before the file
// is in place, is the agent's own, not a user's deletion to carry to the
// others (TestOptionManualResolution lost the winning file "mixed" on
// every other host this way, now and then); a path that is gone without
// such a delete first is not an echo of the fetch.
func TestEchoOfARemovalBeforeAReplacement(t *testing.T) {
	l, root := newTestLive(t)
	file := wire.Entry{Path: "mixed", Kind: wire.KindFile, Size: 21, Mtime: time.Now().UnixNano()}
	l.expectChange("mixed", expectation{gone: true})
	l.expectChange("mixed", expectation{entry: file})
	if !l.echo("mixed") {
		t.Error("the folder's removal, before the fetch made the file, taken for a user's")
	}
	l.expectChange("other", expectation{entry: file})
	if l.echo("other") {
		t.Error("a path gone where only a fetch was expected taken for an echo")
	}
	if err := os.WriteFile(filepath.Join(root, "mixed"), []byte("not what was fetched!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l.echo("mixed") {
		t.Error("a user's file in place of the fetched one taken for an echo")
	}
}

// A user's chmod right after the agent's own fetch (make chaos, seed 3001:
// a mode set on site-a never reached the others) keeps the size and the
// time the fetch left, but not the mode: it is the user's. After a rename,
// which leaves the mode as it was, the mode does not count.
func TestEchoOfAFetchIsNotAChmodAfterIt(t *testing.T) {
	l, root := newTestLive(t)
	p := filepath.Join(root, "f3.bin")
	if err := os.WriteFile(p, []byte("fetched"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	e := wire.Entry{Path: "f3.bin", Kind: wire.KindFile, Size: info.Size(), Mtime: info.ModTime().UnixNano(), Mode: 0o644}
	l.expectChange("f3.bin", expectation{entry: e, mode: true})
	if !l.echo("f3.bin") {
		t.Fatal("the fetched file as fetched is not an echo")
	}
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if l.echo("f3.bin") {
		t.Error("a chmod after the fetch taken for an echo")
	}
	l.expectChange("f3.bin", expectation{entry: e})
	if !l.echo("f3.bin") {
		t.Error("after a rename, whose mode is the old one's, the file taken for a user's change")
	}
}

// A folder the hub had this agent make, removed by a user and made again
// at once (make chaos, seed 2259): the removal is the user's, and so is
// the folder made again, though it looks like what the hub's mkdir left;
// what the agent expected below it is forgotten too.
func TestEchoForgottenAfterAUsersRemoval(t *testing.T) {
	l, root := newTestLive(t)
	dir := filepath.Join(root, "b")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.expectChange("b", expectation{dir: true, entry: wire.Entry{Path: "b", Kind: wire.KindDir, Mode: 0o755}, mode: true})
	l.expectChange("b/x", expectation{gone: true})
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	l.onRemove(context.Background(), watch.Event{Op: watch.Removed, Path: "b", IsDir: true})
	if n := len(l.pending); n != 1 || l.pending[0].Kind != wire.ChangeRemove {
		t.Fatalf("pending %+v, want the user's removal of b", l.pending)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if l.echo("b") {
		t.Error("the folder a user made again taken for the echo of the hub's mkdir")
	}
	if l.echo("b/x") {
		t.Error("an expectation below the removed folder outlived it")
	}
}

// A folder the hub made, renamed away by a user and made again by the
// user at once (make chaos, seed 20031): the new folder is the user's.
func TestEchoForgottenAfterAUsersRename(t *testing.T) {
	l, root := newTestLive(t)
	dir := filepath.Join(root, "b")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.expectChange("b", expectation{dir: true, entry: wire.Entry{Path: "b", Kind: wire.KindDir, Mode: 0o755}, mode: true})
	l.expectChange("b/x", expectation{gone: true})
	if err := os.Rename(dir, filepath.Join(root, "e")); err != nil {
		t.Fatal(err)
	}
	l.onRename(context.Background(), watch.Event{Op: watch.Renamed, Path: "e", OldPath: "b", IsDir: true})
	if n := len(l.pending); n != 1 || l.pending[0].Kind != wire.ChangeRename {
		t.Fatalf("pending %+v, want the user's rename of b", l.pending)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if l.echo("b") {
		t.Error("the folder a user made again taken for the echo of the hub's mkdir")
	}
	if l.echo("b/x") {
		t.Error("an expectation below the renamed folder outlived it")
	}
}

// The files of a folder the agent's own op removed are seen removed one by
// one: each removal is the agent's too, not a user's, which would count as
// removed here lately and refuse the hub's next fetch of that name.
func TestEchoBelowAFolderTheAgentRemoved(t *testing.T) {
	l, root := newTestLive(t)
	l.expectChange("x", expectation{gone: true})
	if !l.echo("x/sub/f.txt") {
		t.Error("a file gone below the folder the agent removed taken for a user's removal")
	}
	if err := os.MkdirAll(filepath.Join(root, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "x", "new.txt"), []byte("a user's"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l.echo("x/new.txt") {
		t.Error("a file there below it taken for an echo of the removal")
	}
	if l.echo("y/f.txt") {
		t.Error("a path below nothing removed taken for an echo")
	}
}

// A folder the hub removed and made again here, whose creation was seen,
// then removed by a user: that removal is the user's, not the echo of the
// hub's removal before the mkdir (make chaos, seed 100062).
func TestEchoOfARemovalEndsWhenTheNewFolderIsSeen(t *testing.T) {
	ctx := context.Background()
	l, root := newTestLive(t)
	l.expectChange("a", expectation{gone: true})
	l.expectChange("a", expectation{dir: true})
	if err := os.Mkdir(filepath.Join(root, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.handle(ctx, watch.Event{Op: watch.Removed, Path: "a", IsDir: true})
	l.handle(ctx, watch.Event{Op: watch.Created, Path: "a", IsDir: true})
	if len(l.pending) != 0 {
		t.Fatalf("the hub's own removal and mkdir reported: %+v", l.pending)
	}
	if err := os.Remove(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	l.handle(ctx, watch.Event{Op: watch.Removed, Path: "a", IsDir: true})
	if len(l.pending) != 1 || l.pending[0].Kind != wire.ChangeRemove || l.pending[0].Path != "a" {
		t.Errorf("a user's removal of the folder after its creation was seen: reported %+v, want the removal of a", l.pending)
	}
}

// A folder the hub's rename moved away here, made again by a user and
// removed by them within expectFor (make chaos, seed 20194): the removal
// is the user's, not the echo of the rename, and reaches the hub.
func TestRemovalAfterAUsersFolderMadeAgainIsReported(t *testing.T) {
	l, root := newTestLive(t)
	l.expectChange("b", expectation{gone: true}) // the hub's rename of b to e
	l.expectChange("e", expectation{dir: true})
	do(t, os.Mkdir(filepath.Join(root, "e"), 0o755))
	dir := filepath.Join(root, "b")
	do(t, os.Mkdir(dir, 0o755))
	l.onChange(context.Background(), watch.Event{Op: watch.Created, Path: "b", IsDir: true})
	do(t, os.Remove(dir))
	l.onRemove(context.Background(), watch.Event{Op: watch.Removed, Path: "b", IsDir: true})
	var got []string
	for _, ch := range l.pending {
		got = append(got, ch.Kind.String()+" "+ch.Path)
	}
	want := []string{wire.ChangeMkdir.String() + " b", wire.ChangeRemove.String() + " b"}
	if !slices.Equal(got, want) {
		t.Errorf("reported %v, want %v", got, want)
	}
	if !l.echo("e") {
		t.Error("the expectation of the rename's new path was forgotten too")
	}
}
