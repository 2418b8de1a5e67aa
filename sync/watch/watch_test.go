package watch

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/filter"
)

// These tests run against whichever backend the build has: raw inotify on
// Linux, fsnotify elsewhere (and on Linux with -tags watch_fsnotify). They
// wait for events with generous timeouts and never assert how fast
// anything is.

// waitLong bounds every wait for an event: long, since the machine may be
// busy; a passing test never waits for it.
const waitLong = 15 * time.Second

// treeFlag selects the tree watch of the tests that do not choose one, so
// that the same tests run against both: go test ./sync/watch -args
// -tree=inotify, and -tree=fanotify (root, Linux 5.17+; the tests skip
// where it is not available). The default, auto, is what the agent uses.
var treeFlag = flag.String("tree", "auto", "tree watch of the tests that do not choose one: auto, inotify or fanotify")

// testTree is treeFlag parsed.
var testTree Tree

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	flag.Parse()
	t, err := ParseTree(*treeFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testTree = t
	quietPeriod = 300 * time.Millisecond
	os.Exit(m.Run())
}

// rec reads a Watcher's events and keeps them, so a test can wait for one
// and later ask whether another came before it. Waits match events in any
// order: one that came early (events from different sources, such as
// fanotify's WriteOpen and inotify's Created, have no set order) is found
// among those already seen, and each event satisfies one wait only.
type rec struct {
	t    testing.TB
	w    *Watcher
	seen []Event
	used []bool // seen[i] satisfied a wait
}

func start(t testing.TB, root string, opts Options) *rec {
	t.Helper()
	if opts.Tree == TreeAuto {
		opts.Tree = testTree
	}
	w, err := New(context.Background(), root, opts)
	if err != nil {
		if opts.Tree == TreeFanotify {
			t.Skipf("tree changes by fanotify are not available here: %v", err)
		}
		t.Fatalf("New(%s, %+v): %v", root, opts, err)
	}
	t.Cleanup(func() { w.Close() })
	return &rec{t: t, w: w}
}

// waitFor returns the first event seen and not used yet that matches,
// reading more events until one does.
func (r *rec) waitFor(what string, match func(Event) bool) Event {
	r.t.Helper()
	for i, e := range r.seen {
		if !r.used[i] && match(e) {
			r.used[i] = true
			return e
		}
	}
	timeout := time.NewTimer(waitLong)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-r.w.Events():
			if !ok {
				r.t.Fatalf("events closed (Err: %v) while waiting for %s; seen:\n%s", r.w.Err(), what, r.dump())
			}
			r.seen = append(r.seen, ev)
			r.used = append(r.used, match(ev))
			if match(ev) {
				return ev
			}
		case <-timeout.C:
			r.t.Fatalf("no %s within %v; seen:\n%s", what, waitLong, r.dump())
		}
	}
}

// want waits for an event op at path.
func (r *rec) want(op Op, path string) Event {
	r.t.Helper()
	return r.waitFor(fmt.Sprintf("%v %q", op, path), func(e Event) bool { return e.Op == op && e.Path == path })
}

// wantRename waits for the rename of from to to.
func (r *rec) wantRename(from, to string) Event {
	r.t.Helper()
	return r.waitFor(fmt.Sprintf("Renamed %q -> %q", from, to), func(e Event) bool {
		return e.Op == Renamed && e.OldPath == from && e.Path == to
	})
}

// saw returns the events seen so far (since index from) that match.
func (r *rec) saw(from int, match func(Event) bool) []Event {
	var out []Event
	for _, e := range r.seen[from:] {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// drain reads events until none came for quiet.
func (r *rec) drain(quiet time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(4 * waitLong)
	for time.Now().Before(deadline) {
		select {
		case ev, ok := <-r.w.Events():
			if !ok {
				r.t.Fatalf("events closed (Err: %v) while draining", r.w.Err())
			}
			r.seen = append(r.seen, ev)
			r.used = append(r.used, false)
		case <-time.After(quiet):
			return
		}
	}
	r.t.Fatalf("events kept coming for %v", 4*waitLong)
}

func (r *rec) dump() string {
	var b strings.Builder
	for _, e := range r.seen {
		fmt.Fprintf(&b, "  %v\n", e)
	}
	return b.String()
}

// mark makes a file whose Created the test then waits for: everything the
// watcher reported before it (from the same source) has been seen. It
// returns the index of the first event after the marker's.
func (r *rec) mark(root string) int {
	r.t.Helper()
	name := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	write(r.t, filepath.Join(root, name), "m")
	r.want(Created, name)
	return len(r.seen)
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdirs(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func rename(t testing.TB, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func isPath(p string) func(Event) bool {
	return func(e Event) bool { return e.Path == p || e.OldPath == p }
}

func defaultFilter(t testing.TB) *filter.Filter {
	t.Helper()
	f, err := filter.New(append(slices.Clone(filter.Default), "build/"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFileLifecycle: create, modify, metadata, rename, remove.
func TestFileLifecycle(t *testing.T) {
	root := t.TempDir()
	r := start(t, root, Options{Filter: defaultFilter(t)})

	write(t, filepath.Join(root, "a.txt"), "one")
	if e := r.want(Created, "a.txt"); e.IsDir {
		t.Errorf("Created a.txt IsDir")
	}
	r.want(Changed, "a.txt")
	r.want(Closed, "a.txt")

	f, err := os.OpenFile(filepath.Join(root, "a.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 { // repeated modifications: one Changed until the close
		f.WriteString("x")
	}
	r.want(Changed, "a.txt")
	f.Close()
	n := len(r.seen)
	r.want(Closed, "a.txt")
	if ch := r.saw(n-1, func(e Event) bool { return e.Op == Changed && e.Path == "a.txt" }); len(ch) > 1 {
		t.Errorf("50 writes gave %d Changed events, want them coalesced:\n%s", len(ch), r.dump())
	}

	if err := os.Chmod(filepath.Join(root, "a.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.want(Changed, "a.txt")
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(root, "a.txt"), future, future); err != nil {
		t.Fatal(err)
	}
	r.want(Changed, "a.txt")

	rename(t, filepath.Join(root, "a.txt"), filepath.Join(root, "b.txt"))
	if e := r.wantRename("a.txt", "b.txt"); e.IsDir {
		t.Errorf("Renamed file IsDir")
	}
	if err := os.Remove(filepath.Join(root, "b.txt")); err != nil {
		t.Fatal(err)
	}
	r.want(Removed, "b.txt")
}

// TestFirstModificationIsWriteOpen: whatever the mode, a file written in
// place has a WriteOpen before its Closed (fanotify and leases see the
// open itself; without them the first modification stands for it), except
// that fanotify may miss an open closed before it could look (not here:
// the file stays open).
func TestFirstModificationIsWriteOpen(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "doc.txt"), "v1")
	r := start(t, root, Options{})
	f, err := os.OpenFile(filepath.Join(root, "doc.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("v2"); err != nil {
		t.Fatal(err)
	}
	r.want(WriteOpen, "doc.txt")
	f.Close()
	r.want(Closed, "doc.txt")
}

// TestNewFoldersRecursive: folders made with content at once (mkdir -p and
// an immediate write) and folders moved in whole: nothing inside is
// missed, and what is made inside them later is seen too.
func TestNewFoldersRecursive(t *testing.T) {
	root := t.TempDir()
	r := start(t, root, Options{})

	mkdirs(t, filepath.Join(root, "a", "b", "c"))
	write(t, filepath.Join(root, "a", "b", "c", "f.txt"), "deep")
	for _, d := range []string{"a", "a/b", "a/b/c"} {
		if e := r.want(Created, d); !e.IsDir {
			t.Errorf("Created %s: IsDir false", d)
		}
	}
	r.want(Created, "a/b/c/f.txt")
	write(t, filepath.Join(root, "a", "b", "c", "later.txt"), "later")
	r.want(Created, "a/b/c/later.txt")

	// A tree made outside the root, then moved in: it arrives whole.
	outside := t.TempDir()
	mkdirs(t, filepath.Join(outside, "x", "y", "z"))
	write(t, filepath.Join(outside, "x", "top.txt"), "1")
	write(t, filepath.Join(outside, "x", "y", "z", "leaf.txt"), "2")
	rename(t, filepath.Join(outside, "x"), filepath.Join(root, "x"))
	for _, p := range []string{"x", "x/y", "x/y/z", "x/top.txt", "x/y/z/leaf.txt"} {
		r.want(Created, p)
	}
	write(t, filepath.Join(root, "x", "y", "z", "new.txt"), "3")
	r.want(Created, "x/y/z/new.txt")
}

// TestRenameFolders: a folder rename is one Renamed, and later events
// below it carry the new paths, nested renames included.
func TestRenameFolders(t *testing.T) {
	root := t.TempDir()
	mkdirs(t, filepath.Join(root, "d", "sub"))
	write(t, filepath.Join(root, "d", "sub", "f.txt"), "x")
	r := start(t, root, Options{})

	rename(t, filepath.Join(root, "d"), filepath.Join(root, "e"))
	if e := r.wantRename("d", "e"); !e.IsDir {
		t.Errorf("Renamed folder: IsDir false")
	}
	write(t, filepath.Join(root, "e", "sub", "g.txt"), "y")
	r.want(Created, "e/sub/g.txt")

	rename(t, filepath.Join(root, "e", "sub"), filepath.Join(root, "e", "sub2"))
	r.wantRename("e/sub", "e/sub2")
	mkdirs(t, filepath.Join(root, "other"))
	r.want(Created, "other")
	rename(t, filepath.Join(root, "e", "sub2"), filepath.Join(root, "other", "moved"))
	r.wantRename("e/sub2", "other/moved")
	if err := os.Remove(filepath.Join(root, "other", "moved", "f.txt")); err != nil {
		t.Fatal(err)
	}
	r.want(Removed, "other/moved/f.txt")
	n := len(r.seen)
	r.mark(root)
	if bad := r.saw(n, func(e Event) bool { return strings.HasPrefix(e.Path, "d/") || strings.HasPrefix(e.Path, "e/sub/") }); len(bad) > 0 {
		t.Errorf("events under old paths: %v", bad)
	}
}

// TestMovesAcrossTheRoot: a move out is a Removed, a move in a Created, and
// a folder moved out is no longer watched.
func TestMovesAcrossTheRoot(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	write(t, filepath.Join(root, "f.txt"), "x")
	mkdirs(t, filepath.Join(root, "d", "sub"))
	r := start(t, root, Options{})

	rename(t, filepath.Join(root, "f.txt"), filepath.Join(outside, "f.txt"))
	r.want(Removed, "f.txt")
	rename(t, filepath.Join(root, "d"), filepath.Join(outside, "d"))
	if e := r.want(Removed, "d"); !e.IsDir {
		t.Errorf("Removed folder: IsDir false")
	}
	n := len(r.seen)
	write(t, filepath.Join(outside, "d", "sub", "after.txt"), "not ours")
	r.mark(root)
	if bad := r.saw(n, isPath("d/sub/after.txt")); len(bad) > 0 {
		t.Errorf("a folder moved out is still watched: %v", bad)
	}

	rename(t, filepath.Join(outside, "f.txt"), filepath.Join(root, "back.txt"))
	r.want(Created, "back.txt")
}

// TestEditorSaves: the temp file + rename save of most editors.
func TestEditorSaves(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "notes.txt"), "v1")
	r := start(t, root, Options{Filter: defaultFilter(t)})

	// A temp name the filter does not know: the rename is reported as is,
	// and the agent takes a rename over a file for its modification.
	write(t, filepath.Join(root, "notes.txt.tmp123"), "v2")
	rename(t, filepath.Join(root, "notes.txt.tmp123"), filepath.Join(root, "notes.txt"))
	r.wantRename("notes.txt.tmp123", "notes.txt")

	// An excluded temp name (gedit's): the file appears at its name.
	n := len(r.seen)
	write(t, filepath.Join(root, ".goutputstream-ABC123"), "v3")
	rename(t, filepath.Join(root, ".goutputstream-ABC123"), filepath.Join(root, "notes.txt"))
	r.want(Created, "notes.txt")

	// vim's own way, with a backup: rename to notes.txt~, write anew, remove
	// the backup.
	rename(t, filepath.Join(root, "notes.txt"), filepath.Join(root, "notes.txt~"))
	write(t, filepath.Join(root, "notes.txt"), "v4")
	if err := os.Remove(filepath.Join(root, "notes.txt~")); err != nil {
		t.Fatal(err)
	}
	r.want(Created, "notes.txt")
	r.mark(root)
	if bad := r.saw(n, func(e Event) bool {
		return strings.Contains(e.Path, "goutputstream") || strings.Contains(e.OldPath, "goutputstream") || strings.HasSuffix(e.Path, "~")
	}); len(bad) > 0 {
		t.Errorf("excluded temp files reported: %v", bad)
	}
}

// TestFilter: excluded files and folders are not reported, and nothing
// below an excluded folder is.
func TestFilter(t *testing.T) {
	root := t.TempDir()
	mkdirs(t, filepath.Join(root, "build"))
	r := start(t, root, Options{Filter: defaultFilter(t)})
	write(t, filepath.Join(root, "build", "out.o"), "x")
	write(t, filepath.Join(root, "x.swp"), "not excluded: no leading dot")
	write(t, filepath.Join(root, ".x.swp"), "vim swap")
	write(t, filepath.Join(root, "Thumbs.db"), "x")
	mkdirs(t, filepath.Join(root, "src", "build", "deep"))
	write(t, filepath.Join(root, "src", "build", "deep", "y.o"), "x")
	r.want(Created, "x.swp")
	r.want(Created, "src")
	r.mark(root)
	if bad := r.saw(0, func(e Event) bool {
		return strings.HasPrefix(e.Path, "build") || strings.Contains(e.Path, "/build") || e.Path == ".x.swp" || e.Path == "Thumbs.db"
	}); len(bad) > 0 {
		t.Errorf("excluded paths reported: %v", bad)
	}
}

// libreOfficeLock is the content LibreOffice writes: full name, system user
// name, host, time, profile URL.
const libreOfficeLock = `Jane Q\, Doe,jane,ws-42,01.03.2026 10:15,file:///home/jane/.config/libreoffice/4;`

// TestOfficeLockFiles: a lock file's appearance is its document's
// WriteOpen (with the user it names), its removal the document's Closed;
// the lock file itself is never reported.
func TestOfficeLockFiles(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "budget.ods"), "sheet")
	write(t, filepath.Join(root, "OfficeReport.docx"), "doc")
	mkdirs(t, filepath.Join(root, "open"))
	write(t, filepath.Join(root, "open", "already.odt"), "x")
	write(t, filepath.Join(root, "open", ".~lock.already.odt#"), libreOfficeLock)
	r := start(t, root, Options{Filter: defaultFilter(t)})

	// Open before the watcher started: reported at once.
	e := r.want(WriteOpen, "open/already.odt")
	if e.User != "jane" || e.LockFile != "open/.~lock.already.odt#" {
		t.Errorf("lock found at start: %v", e)
	}

	write(t, filepath.Join(root, ".~lock.budget.ods#"), libreOfficeLock)
	e = r.want(WriteOpen, "budget.ods")
	if e.User != "jane" || e.LockFile != ".~lock.budget.ods#" || e.Pid != 0 {
		t.Errorf("LibreOffice lock: %v", e)
	}
	if err := os.Remove(filepath.Join(root, ".~lock.budget.ods#")); err != nil {
		t.Fatal(err)
	}
	if e := r.want(Closed, "budget.ods"); e.LockFile != ".~lock.budget.ods#" {
		t.Errorf("LibreOffice unlock: %v", e)
	}

	// Word: the owner file loses the first two characters of a long name.
	write(t, filepath.Join(root, "~$ficeReport.docx"), string(msOwnerFile("John Smith", true)))
	e = r.want(WriteOpen, "OfficeReport.docx")
	if e.User != "John Smith" || e.LockFile != "~$ficeReport.docx" {
		t.Errorf("Word owner file: %v", e)
	}
	if err := os.Remove(filepath.Join(root, "~$ficeReport.docx")); err != nil {
		t.Fatal(err)
	}
	r.want(Closed, "OfficeReport.docx")

	if err := os.Remove(filepath.Join(root, "open", ".~lock.already.odt#")); err != nil {
		t.Fatal(err)
	}
	r.want(Closed, "open/already.odt")
	r.mark(root)
	if bad := r.saw(0, func(e Event) bool {
		return strings.Contains(e.Path, "~lock") || strings.Contains(e.Path, "~$")
	}); len(bad) > 0 {
		t.Errorf("lock files reported as files: %v", bad)
	}
}

// msOwnerFile builds a Microsoft Office owner file the way LibreOffice
// writes one (Word's layout when word is set, else Excel's).
func msOwnerFile(user string, word bool) []byte {
	size, at := 165, 55
	if word {
		size, at = 162, 54
	}
	b := make([]byte, size)
	b[0] = byte(len(user))
	copy(b[1:], user)
	for i := 1 + len(user); i < at; i++ {
		if !word {
			b[i] = ' '
		}
	}
	if !word {
		b[1+len(user)] = 0
	}
	b[at] = byte(len(user))
	for i, c := range user {
		b[at+2+2*i] = byte(c)
	}
	for i := at + 2 + 2*len(user); i < size; i++ {
		if !word && i%2 == 0 {
			b[i] = ' '
		}
	}
	return b
}

// TestCloseAndContext: Close and the end of the context both stop the
// watcher and close Events, with no error.
func TestCloseAndContext(t *testing.T) {
	root := t.TempDir()
	w, err := New(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.Events(); ok {
		// Events queued before the close may come first; drain.
		for range w.Events() {
		}
	}
	if w.Err() != nil {
		t.Errorf("Err after Close: %v", w.Err())
	}
	w.Close() // twice is fine

	ctx, cancel := context.WithCancel(context.Background())
	w, err = New(ctx, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cancel()
	deadline := time.After(waitLong)
	for {
		select {
		case _, ok := <-w.Events():
			if ok {
				continue
			}
			if w.Err() != nil {
				t.Errorf("Err after cancel: %v", w.Err())
			}
			return
		case <-deadline:
			t.Fatal("Events not closed after the context ended")
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(context.Background(), "relative/path", Options{}); err == nil {
		t.Error("relative root accepted")
	}
	if _, err := New(context.Background(), filepath.Join(t.TempDir(), "missing"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing root: %v, want ErrNotExist", err)
	}
}

func TestOpAndModeStrings(t *testing.T) {
	for op := WriteOpen; op <= Limited; op++ {
		if strings.HasPrefix(op.String(), "Op(") {
			t.Errorf("Op %d has no name", op)
		}
	}
	for _, m := range []Mode{Auto, Fanotify, Lease, InotifyOnly} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("nope"); err == nil {
		t.Error("ParseMode accepted nonsense")
	}
	e := Event{Op: Renamed, Path: "b", OldPath: "a", IsDir: true}
	if s := e.String(); !strings.Contains(s, `"a" -> "b"`) {
		t.Errorf("Event.String() = %s", s)
	}
}

// TestMoveOutThenReuse: a move out of the root followed at once by a new
// file of the same name is reported in that order (the move's Removed is
// not held back behind the Created).
func TestMoveOutThenReuse(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	write(t, filepath.Join(root, "f.txt"), "old")
	r := start(t, root, Options{})
	rename(t, filepath.Join(root, "f.txt"), filepath.Join(outside, "f.txt"))
	write(t, filepath.Join(root, "f.txt"), "new")
	r.want(Created, "f.txt")
	r.mark(root)
	var ops []Op
	for _, e := range r.seen {
		if e.Path == "f.txt" && (e.Op == Removed || e.Op == Created) {
			ops = append(ops, e.Op)
		}
	}
	if !slices.Equal(ops, []Op{Removed, Created}) {
		t.Errorf("got %v, want Removed then Created; seen:\n%s", ops, r.dump())
	}
}

// TestBurst: thousands of files made at once in new folders (an unzip):
// every one is reported, unless events were lost, which Overflow says.
func TestBurst(t *testing.T) {
	root := t.TempDir()
	r := start(t, root, Options{})
	want := map[string]bool{}
	for d := range 20 {
		dir := fmt.Sprintf("dir%02d/sub", d)
		mkdirs(t, filepath.Join(root, filepath.FromSlash(dir)))
		for f := range 100 {
			p := fmt.Sprintf("%s/f%03d", dir, f)
			write(t, filepath.Join(root, filepath.FromSlash(p)), "x")
			want[p] = true
		}
	}
	overflow := false
	r.waitFor("every file's Created", func(e Event) bool {
		if e.Op == Overflow {
			overflow = true
		}
		if e.Op == Created {
			delete(want, e.Path)
		}
		return len(want) == 0 || overflow
	})
	if overflow {
		t.Logf("events were lost (Overflow), %d files unreported: the agent rescans", len(want))
	}
}
