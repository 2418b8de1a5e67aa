//go:build linux && !watch_fsnotify

package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startTree starts a watcher with tree changes from tree, or skips the test
// with the reason fanotify cannot give them here.
func startTree(t *testing.T, root string, tree Tree) *rec {
	t.Helper()
	r := startMode(t, root, Options{Mode: InotifyOnly, Tree: tree})
	if r.w.Tree() != tree {
		t.Fatalf("Tree() = %v, asked for %v", r.w.Tree(), tree)
	}
	return r
}

// bothTrees runs f against each tree watch.
func bothTrees(t *testing.T, f func(t *testing.T, tree Tree)) {
	for _, tree := range []Tree{TreeInotify, TreeFanotify} {
		t.Run(tree.String(), func(t *testing.T) { f(t, tree) })
	}
}

// TestTreeDeep: files and folders made, written, renamed and removed deep
// in a tree, a folder renamed with its content, and moves out of and into
// the root are reported alike by either tree watch.
func TestTreeDeep(t *testing.T) {
	bothTrees(t, func(t *testing.T, tree Tree) {
		base := t.TempDir()
		root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
		deep := filepath.Join(root, "a", "b", "c", "d")
		mkdirs(t, deep)
		mkdirs(t, filepath.Join(outside, "in", "sub"))
		write(t, filepath.Join(outside, "in", "sub", "x.txt"), "x")
		r := startTree(t, root, tree)

		write(t, filepath.Join(deep, "f.txt"), "1")
		r.want(Created, "a/b/c/d/f.txt")
		r.want(Closed, "a/b/c/d/f.txt")
		mkdirs(t, filepath.Join(deep, "e", "g"))
		r.want(Created, "a/b/c/d/e")
		r.want(Created, "a/b/c/d/e/g")
		write(t, filepath.Join(deep, "e", "g", "h.txt"), "2")
		r.want(Created, "a/b/c/d/e/g/h.txt")
		rename(t, filepath.Join(deep, "f.txt"), filepath.Join(deep, "e", "f2.txt"))
		r.wantRename("a/b/c/d/f.txt", "a/b/c/d/e/f2.txt")

		// A folder with content renamed: later events below it follow it.
		rename(t, filepath.Join(root, "a", "b"), filepath.Join(root, "a", "B"))
		r.wantRename("a/b", "a/B")
		write(t, filepath.Join(root, "a", "B", "c", "d", "e", "g", "h.txt"), "3")
		r.want(Closed, "a/B/c/d/e/g/h.txt")
		if err := os.Remove(filepath.Join(root, "a", "B", "c", "d", "e", "f2.txt")); err != nil {
			t.Fatal(err)
		}
		r.want(Removed, "a/B/c/d/e/f2.txt")

		// Out of the root, and in.
		rename(t, filepath.Join(root, "a", "B", "c"), filepath.Join(outside, "c"))
		r.want(Removed, "a/B/c")
		rename(t, filepath.Join(outside, "in"), filepath.Join(root, "a", "in"))
		r.want(Created, "a/in")
		r.want(Created, "a/in/sub")
		r.want(Created, "a/in/sub/x.txt")
		write(t, filepath.Join(root, "a", "in", "sub", "y.txt"), "y")
		r.want(Created, "a/in/sub/y.txt")
		// What happens in the folder moved out is not reported.
		write(t, filepath.Join(outside, "c", "d", "e", "g", "h.txt"), "4")
		if err := os.RemoveAll(filepath.Join(root, "a", "in")); err != nil {
			t.Fatal(err)
		}
		r.want(Removed, "a/in")
		r.mark(root)
		if got := r.saw(0, func(e Event) bool {
			return e.Path == "c" || filepath.Base(e.Path) == "h.txt" && e.Path != "a/b/c/d/e/g/h.txt" && e.Path != "a/B/c/d/e/g/h.txt"
		}); len(got) != 0 {
			t.Errorf("reported from outside the root: %v", got)
		}
	})
}

// TestTreeOverflow: the tree group's queue overflowing is an Overflow, as
// inotify's, and the watcher goes on: a folder made while events were lost
// is seen afterwards.
func TestTreeOverflow(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fanotify and lowering fs.fanotify.max_queued_events need root")
	}
	const sysctl = "/proc/sys/fs/fanotify/max_queued_events"
	saved, err := os.ReadFile(sysctl)
	if err != nil {
		t.Skip(err)
	}
	orig := fanTreeInit
	t.Cleanup(func() { fanTreeInit = orig })
	fanTreeInit = func() (int, error) {
		// The queue size is taken when the group is made.
		if err := os.WriteFile(sysctl, []byte("16"), 0); err != nil {
			return -1, err
		}
		defer os.WriteFile(sysctl, saved, 0)
		return orig()
	}
	root := t.TempDir()
	r := startTree(t, root, TreeFanotify)
	fanTreeInit = orig
	if now, _ := os.ReadFile(sysctl); string(now) != string(saved) {
		t.Fatalf("%s not restored: %q, was %q", sysctl, now, saved)
	}
	for i := range 2000 {
		write(t, filepath.Join(root, fmt.Sprintf("f%04d", i)), "x")
	}
	mkdirs(t, filepath.Join(root, "late"))
	r.waitFor("Overflow", func(e Event) bool { return e.Op == Overflow })
	// The mark covers the whole file system, whose other users may keep
	// a 16-event queue overflowing: a file is made in the folder made
	// while events were lost until one is reported.
	deadline := time.Now().Add(waitLong)
	for i := 0; ; i++ {
		write(t, filepath.Join(root, "late", fmt.Sprintf("after%d.txt", i)), "x")
		quiet := time.After(300 * time.Millisecond)
	read:
		for {
			select {
			case e, ok := <-r.w.Events():
				if !ok {
					t.Fatalf("the watcher stopped: %v", r.w.Err())
				}
				if e.Op == Created && strings.HasPrefix(e.Path, "late/after") {
					return
				}
			case <-quiet:
				break read
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no file made in the folder made while events were lost was reported")
		}
	}
}

// openTestTree opens a tree group on dir, skipping where it cannot be.
func openTestTree(t *testing.T, dir string) *fanTree {
	t.Helper()
	ft, err := openFanTree(dir)
	if err != nil {
		t.Skipf("tree changes by fanotify are not available here: %v", err)
	}
	t.Cleanup(ft.close)
	return ft
}

// readPlaced reads what the group has queued, once the work that made it
// is over, and places it below root.
func readPlaced(t *testing.T, ft *fanTree, root string) []treeEvent {
	t.Helper()
	buf := make([]byte, 256<<10)
	var recs []fanRec
	for {
		n, err := unix.Read(int(ft.f.Fd()), buf)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeFanTree(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, got...)
	}
	return ft.place(recs, root)
}

// placed lists events as "mask path" or "rename from -> to" for a test to
// look through.
func placed(evs []treeEvent) []string {
	var out []string
	for _, ev := range evs {
		for _, bit := range []struct {
			m    uint64
			name string
		}{{unix.FAN_CREATE, "create"}, {unix.FAN_DELETE, "delete"}, {unix.FAN_CLOSE_WRITE, "close"}} {
			if ev.mask&bit.m != 0 {
				out = append(out, bit.name+" "+ev.to.rel)
			}
		}
		if ev.mask&unix.FAN_RENAME != 0 {
			out = append(out, "rename "+ev.from.rel+" -> "+ev.to.rel)
		}
	}
	return out
}

// TestTreePlacedWhereItHappened: the events of a batch are placed where
// they happened, not where their folder is when they are read: a folder
// renamed after a file was made in it, and a folder removed (its handle no
// longer opens) after a file was made in it.
func TestTreePlacedWhereItHappened(t *testing.T) {
	root := t.TempDir()
	ft := openTestTree(t, root)
	mkdirs(t, filepath.Join(root, "a"))
	write(t, filepath.Join(root, "a", "f"), "x")
	rename(t, filepath.Join(root, "a"), filepath.Join(root, "b"))
	mkdirs(t, filepath.Join(root, "gone"))
	write(t, filepath.Join(root, "gone", "g"), "x")
	if err := os.RemoveAll(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}
	got := placed(readPlaced(t, ft, root))
	for _, want := range []string{"create a", "create a/f", "close a/f", "rename a -> b", "create gone", "create gone/g", "delete gone/g", "delete gone"} {
		if !slices.Contains(got, want) {
			t.Errorf("no %q among the events placed: %q", want, got)
		}
	}
	if i, j := slices.Index(got, "create a/f"), slices.Index(got, "rename a -> b"); i > j {
		t.Errorf("a/f's creation placed after the rename: %q", got)
	}
}

// TestTreeUndo: a path read after folder renames is put back where it was
// before them, the latest undone first.
func TestTreeUndo(t *testing.T) {
	moves := []folderMove{{from: "/r/b", to: "/r/c"}, {from: "/r/a", to: "/r/b"}} // a -> b, then b -> c
	for _, c := range []struct{ now, then string }{
		{"/r/c/f", "/r/a/f"},
		{"/r/c", "/r/a"},
		{"/r/cc/f", "/r/cc/f"},
		{"/r/x", "/r/x"},
	} {
		if got := undo(c.now, moves); got != c.then {
			t.Errorf("undo(%q) = %q, want %q", c.now, got, c.then)
		}
	}
	for _, c := range []struct {
		p, real string
		want    treeLoc
	}{
		{"/r/a", "/r", treeLoc{rel: "a", in: true}},
		{"/r", "/r", treeLoc{in: true}},
		{"/rr/a", "/r", treeLoc{rel: "/rr/a"}},
		{"/a/b", "/", treeLoc{rel: "a/b", in: true}},
	} {
		if got := relTo(c.p, c.real); got != c.want {
			t.Errorf("relTo(%q, %q) = %+v, want %+v", c.p, c.real, got, c.want)
		}
	}
}
