//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/sync/lock"
	"github.com/peerlink/peerlink/sync/scan"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// These tests drive the rescan and the live loop's judgement of what it
// found on real files and a real agent.db, without a broker: the changes
// the loop would send stay in live.pending.

// settled is how long after writing a file it can be cached (the scan's
// racy window, 2 s, and a margin).
const settled = 2100 * time.Millisecond

func newTestLive(t *testing.T) (*live, string) {
	t.Helper()
	root := t.TempDir()
	a, err := New(Config{Name: "site-a", DataDir: t.TempDir(), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.db.Close() })
	tr, err := tree.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	f, err := filter.New(filter.Default)
	if err != nil {
		t.Fatal(err)
	}
	s := &attached{name: "docs", root: root, tree: tr, filter: f}
	locker, err := lock.New(tr, a.db, s.name, lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := &live{a: a, s: s, locker: locker, expect: map[string]expectation{}, opened: newOpenSet(),
		viaLock: map[string]string{}, settle: map[string]time.Time{}, cache: map[string]*store.CachedPath{},
		rs: newRescans(0), done: make(chan struct{})}
	l.rs.start(context.Background())
	t.Cleanup(l.rs.stop)
	return l, root
}

// startupScan does what the agent does for the hub's scan at a session's
// start: the scan cache and the rescans' folders.
func startupScan(t *testing.T, l *live) {
	t.Helper()
	cache, err := l.a.openCache(l.s.name)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	var dirs []dirRec
	_, _, err = scan.Run(context.Background(), l.s.tree, scan.Options{Filter: l.s.filter, Cache: cache}, func(b []wire.Entry) error {
		dirs = appendDirs(dirs, b)
		return nil
	})
	if err == nil {
		err = cache.Finish()
	}
	if err != nil {
		t.Fatal(err)
	}
	l.knowDirs(dirs)
}

// rescanNow runs one rescan through the loop's handling and returns the
// changes it would report, as "kind path" strings, sorted; the scan cache
// records of what it reported are written, as a flush does.
func rescanNow(t *testing.T, l *live) []string {
	t.Helper()
	ctx := context.Background()
	l.rescan("test")
	timeout := time.After(30 * time.Second)
	for l.rs.running {
		select {
		case m := <-l.rs.out:
			if m.done && m.err != nil {
				t.Fatalf("rescan: %v", m.err)
			}
			l.rescanned(ctx, m)
		case <-timeout:
			t.Fatal("the rescan did not end")
		}
	}
	var got []string
	for _, c := range l.pending {
		got = append(got, c.Kind.String()+" "+c.Path)
		if c.Kind != wire.ChangeRemove && (c.Entry.Path != c.Path || c.Entry.Validate() != nil) {
			t.Errorf("%s %s carries entry %+v", c.Kind, c.Path, c.Entry)
		}
	}
	l.pending = nil
	l.flush(ctx) // the scan cache only: nothing is pending
	slices.Sort(got)
	return got
}

func put(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A rescan reports every kind of difference from what the agent knew, the
// topmost removed folder only, and nothing of what did not change; once
// what it reported is recorded, the next rescan of the same tree reports
// nothing.
func TestRescanReportsDifferences(t *testing.T) {
	l, root := newTestLive(t)
	put(t, root, "keep.txt", "keep")
	put(t, root, "mod.txt", "v1")
	put(t, root, "chmod.txt", "c")
	put(t, root, "gone/deep/g.txt", "g")
	put(t, root, "from/m.txt", "m")
	do(t, os.Mkdir(filepath.Join(root, "empty"), 0o755))
	do(t, os.Mkdir(filepath.Join(root, "modedir"), 0o755))
	time.Sleep(settled)
	startupScan(t, l)
	if got := rescanNow(t, l); len(got) != 0 {
		t.Fatalf("rescan of an unchanged tree reported %v", got)
	}

	put(t, root, "mod.txt", "v2, longer")
	do(t, os.Chmod(filepath.Join(root, "chmod.txt"), 0o600))
	do(t, os.RemoveAll(filepath.Join(root, "gone")))
	do(t, os.Remove(filepath.Join(root, "empty")))
	do(t, os.Rename(filepath.Join(root, "from"), filepath.Join(root, "to")))
	do(t, os.Chmod(filepath.Join(root, "modedir"), 0o700))
	put(t, root, "new/n.txt", "n")
	put(t, root, ".peerlink-tmp-0123", "a transfer's temp file")
	time.Sleep(settled)
	want := []string{
		"meta chmod.txt", "meta modedir", "mkdir new", "mkdir to",
		"remove empty", "remove from", "remove gone",
		"write mod.txt", "write new/n.txt", "write to/m.txt",
	}
	if got := rescanNow(t, l); !slices.Equal(got, want) {
		t.Errorf("rescan reported\n%v\nwant\n%v", got, want)
	}
	if _, err := os.Lstat(filepath.Join(root, ".peerlink-tmp-0123")); err != nil {
		t.Errorf("the rescan touched a transfer's temp file: %v", err)
	}
	if got := rescanNow(t, l); len(got) != 0 {
		t.Errorf("the next rescan of the same tree reported %v", got)
	}
}

// A file changed a moment ago (too new for the scan cache) is reported all
// the same, mode changes included.
func TestRescanSeesFreshChanges(t *testing.T) {
	l, root := newTestLive(t)
	put(t, root, "a.txt", "a")
	put(t, root, "b.txt", "b")
	time.Sleep(settled)
	startupScan(t, l)
	do(t, os.Chmod(filepath.Join(root, "a.txt"), 0o600))
	put(t, root, "b.txt", "b2")
	if got, want := rescanNow(t, l), []string{"meta a.txt", "write b.txt"}; !slices.Equal(got, want) {
		t.Errorf("rescan reported %v, want %v", got, want)
	}
}

// What the live path owns is left to it: the agent's own changes
// (expectations), files open for writing, files waiting to settle; and a
// file changed after the rescan read it goes back to the live path rather
// than being reported with what the rescan read.
func TestRescanLeavesTheLivePathItsOwn(t *testing.T) {
	l, root := newTestLive(t)
	for _, n := range []string{"own.txt", "open.txt", "settling.txt", "later.txt"} {
		put(t, root, n, "v1")
	}
	time.Sleep(settled)
	startupScan(t, l)
	for _, n := range []string{"own.txt", "open.txt", "settling.txt", "later.txt"} {
		put(t, root, n, "v2")
	}
	info, err := l.s.tree.Lstat("own.txt")
	do(t, err)
	l.expectChange("own.txt", expectation{entry: info.Entry("own.txt")})
	l.opened.add("open.txt")
	l.later("settling.txt")

	l.rescan("test")
	var found []finding
	for l.rs.running {
		m := <-l.rs.out
		found = append(found, m.found...)
		if m.done {
			l.rs.running = false
		}
	}
	put(t, root, "later.txt", "v3, after the rescan read it")
	for i := range found {
		l.reconcile(context.Background(), &found[i])
	}
	if len(l.pending) != 0 {
		t.Errorf("reported %v, want nothing", l.pending)
	}
	if _, ok := l.settle["later.txt"]; !ok {
		t.Error("later.txt, changed after the rescan read it, was not handed to the live path")
	}
	if _, ok := l.cache["later.txt"]; ok {
		t.Error("later.txt's stale record would be written to the scan cache")
	}
}

// A file the live path reported after the rescan looked it up, with the
// very state the rescan found, is not reported a second time: the hub
// could take the second report, gathered with the first into one batch,
// for a new change and find the copy it had just sent in the way (issue
// 17: false concurrent edits after a burst). Whether the live path's
// record still waits for its flush or is in agent.db already.
func TestRescanSkipsWhatTheLivePathReported(t *testing.T) {
	l, root := newTestLive(t)
	put(t, root, "old.txt", "old")
	time.Sleep(settled)
	startupScan(t, l)
	put(t, root, "flushed.txt", "reported and flushed")
	put(t, root, "waiting.txt", "reported, its record waiting for the flush")
	put(t, root, "unreported.txt", "not reported yet")

	l.rescan("test")
	var found []finding
	for l.rs.running {
		m := <-l.rs.out
		found = append(found, m.found...)
		if m.done {
			l.rs.running = false
		}
	}
	l.report("flushed.txt")
	l.pending = nil
	l.flush(context.Background()) // the scan cache only: nothing is pending
	l.report("waiting.txt")
	l.pending = nil
	for i := range found {
		l.reconcile(context.Background(), &found[i])
	}
	var got []string
	for _, c := range l.pending {
		got = append(got, c.Kind.String()+" "+c.Path)
	}
	if want := []string{"write unreported.txt"}; !slices.Equal(got, want) {
		t.Errorf("reported %v, want %v", got, want)
	}
}

// After a rescan the files reported open for writing are looked at again:
// those nobody holds open for writing any more, or that are gone, are to be
// reported closed, since their close may have been among the events lost;
// those still open, and office documents (their lock file says), are not.
func TestRescanRechecksOpenFiles(t *testing.T) {
	l, root := newTestLive(t)
	for _, n := range []string{"held.txt", "closed.txt", "doc.odt"} {
		put(t, root, n, "v1")
	}
	w, err := watch.New(context.Background(), root, watch.Options{IgnorePid: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	go func() {
		for range w.Events() {
		}
	}()
	l.w = w
	held, err := os.OpenFile(filepath.Join(root, "held.txt"), os.O_RDWR, 0)
	do(t, err)
	defer held.Close()
	for _, p := range []string{"held.txt", "closed.txt", "gone.txt", "doc.odt"} {
		l.opened.add(p)
	}
	l.viaLock["doc.odt"] = ".~lock.doc.odt#"
	if probe := w.Writing([]string{"held.txt"}); !probe["held.txt"] {
		t.Skipf("this system cannot tell whether a file is open for writing (%s mode, %v)", w.Mode(), probe)
	}
	if got, want := l.closedUnseen(), []string{"closed.txt", "gone.txt"}; !slices.Equal(got, want) {
		t.Errorf("to report closed: %v, want %v", got, want)
	}
}

// A folder the scan cannot read is unknown, not gone: neither it nor what
// the cache has below it is reported removed.
func TestRescanUnreadableIsNotRemoved(t *testing.T) {
	if !asNobody(t) {
		return
	}
	l, root := newTestLive(t)
	// Folders that sort after the unreadable one, and a real removal
	// among them: the unreadable folder must hide neither.
	for _, d := range []string{"a", "locked/x1", "locked/x2", "locked/x3", "m", "n", "o", "p", "q/gone", "r"} {
		put(t, root, d+"/f.txt", "f")
	}
	time.Sleep(settled)
	startupScan(t, l)
	do(t, os.Chmod(filepath.Join(root, "locked"), 0))
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })
	do(t, os.RemoveAll(filepath.Join(root, "q/gone")))
	got := rescanNow(t, l)
	var removed []string
	for _, s := range got {
		if p, ok := strings.CutPrefix(s, "remove "); ok {
			removed = append(removed, p)
		}
	}
	if !slices.Equal(removed, []string{"q/gone"}) {
		t.Errorf("rescan reported %v, want only the removal of q/gone", got)
	}
	if again := rescanNow(t, l); slices.ContainsFunc(again, func(s string) bool { return strings.HasPrefix(s, "remove") }) {
		t.Errorf("the next rescan reported %v", again)
	}
}

func TestLimitWarning(t *testing.T) {
	le := &watch.LimitError{Root: "/srv/docs", What: "inotify watch limit", Sysctl: "fs.inotify.max_user_watches",
		Value: 8192, Suggest: 1 << 20, Err: syscall.ENOSPC}
	got := limitWarning(fmt.Errorf("wrapped: %w", le), "site-b", "/srv/docs", 30*time.Second)
	want := "inotify watch limit reached (fs.inotify.max_user_watches=8192): raise it, e.g. sysctl -w fs.inotify.max_user_watches=1048576; until then site-b scans /srv/docs every 30s"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	le.Detail = strings.Repeat("x", 2000)
	if got := limitWarning(le, "site-b", "/srv/docs", time.Minute); len(got) > wire.MaxWarningLen || !strings.HasSuffix(got, "; until then site-b scans /srv/docs every 1m0s") {
		t.Errorf("a long detail: %d bytes, %q...", len(got), got[:80])
	}
	if got := limitWarning(errors.New("no inotify"), "h", "/r", time.Second); got != "no inotify; until then h scans /r every 1s" {
		t.Errorf("another error: %s", got)
	}
	if err := (&wire.Warning{Session: "docs", Msg: limitWarning(le, "site-b", "/srv/docs", time.Minute)}).Validate(); err != nil {
		t.Errorf("the warning does not go on the wire: %v", err)
	}
}
