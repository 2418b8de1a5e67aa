//go:build linux && !watch_fsnotify

package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startMode starts a watcher in an explicit mode, or skips the test with
// the reason the mode is not available here.
func startMode(t *testing.T, root string, opts Options) *rec {
	t.Helper()
	if opts.Tree == TreeAuto {
		opts.Tree = testTree
	}
	w, err := New(context.Background(), root, opts)
	if err != nil {
		if opts.Mode == Fanotify || opts.Mode == Lease || opts.Tree == TreeFanotify {
			t.Skipf("%v mode (tree by %v) not available here: %v", opts.Mode, opts.Tree, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if w.Mode() != opts.Mode && opts.Mode != Auto {
		t.Fatalf("Mode() = %v, asked for %v", w.Mode(), opts.Mode)
	}
	return &rec{t: t, w: w}
}

// holder is a child process (a shell) holding a file open read-write until
// it is told to go.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func holdOpen(t *testing.T, path string) *holder {
	t.Helper()
	cmd := exec.Command("sh", "-c", `exec 3<>"$1"; echo more >&3; read x`, "sh", path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("no shell to run a child process: %v", err)
	}
	h := &holder{cmd: cmd, stdin: stdin}
	t.Cleanup(h.release)
	return h
}

func (h *holder) release() {
	if h.stdin != nil {
		h.stdin.Close()
		h.cmd.Wait()
		h.stdin = nil
	}
}

func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// TestWriteOpenByMode: in each mode, a read-write open (by this process,
// then by a child) is a WriteOpen, and its close a Closed; a read-only open
// is nothing. Fanotify knows the opener's pid and user.
func TestWriteOpenByMode(t *testing.T) {
	for _, mode := range []Mode{Fanotify, Lease, InotifyOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			doc, other := filepath.Join(root, "doc.txt"), filepath.Join(root, "read.txt")
			write(t, doc, "v1")
			write(t, other, "read me")
			r := startMode(t, root, Options{Mode: mode})
			n := len(r.seen)

			rf, err := os.Open(other)
			if err != nil {
				t.Fatal(err)
			}
			defer rf.Close()
			if _, err := io.ReadAll(rf); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(doc, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if mode == InotifyOnly {
				f.WriteString("v2") // the only thing it can see
			}
			e := r.want(WriteOpen, "doc.txt")
			switch mode {
			case Fanotify:
				if e.Pid != os.Getpid() || e.User != currentUser(t) {
					t.Errorf("fanotify WriteOpen %v: want pid %d, user %q", e, os.Getpid(), currentUser(t))
				}
			default:
				if e.Pid != 0 || e.User != "" {
					t.Errorf("%v WriteOpen %v: no pid or user expected", mode, e)
				}
			}
			rf.Close()
			f.Close()
			r.want(Closed, "doc.txt")
			if bad := r.saw(n, func(e Event) bool { return e.Path == "read.txt" }); len(bad) > 0 {
				t.Errorf("a read-only open was reported: %v", bad)
			}

			h := holdOpen(t, doc)
			e = r.want(WriteOpen, "doc.txt")
			if mode == Fanotify && (e.Pid != h.cmd.Process.Pid || e.User != currentUser(t)) {
				t.Errorf("child's WriteOpen %v: want pid %d", e, h.cmd.Process.Pid)
			}
			h.release()
			r.want(Closed, "doc.txt")
		})
	}
}

// TestIgnorePid: the agent's own opens are not reported; others' are.
func TestIgnorePid(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "mine.txt"), "x")
	write(t, filepath.Join(root, "theirs.txt"), "x")
	r := startMode(t, root, Options{Mode: Fanotify, IgnorePid: os.Getpid()})
	f, err := os.OpenFile(filepath.Join(root, "mine.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := holdOpen(t, filepath.Join(root, "theirs.txt"))
	if e := r.want(WriteOpen, "theirs.txt"); e.Pid != h.cmd.Process.Pid {
		t.Errorf("WriteOpen %v: want pid %d", e, h.cmd.Process.Pid)
	}
	if bad := r.saw(0, func(e Event) bool { return e.Op == WriteOpen && e.Path == "mine.txt" }); len(bad) > 0 {
		t.Errorf("own open reported: %v", bad)
	}
}

// TestAutoMode: as root Auto picks fanotify when the kernel allows it.
func TestAutoMode(t *testing.T) {
	r := start(t, t.TempDir(), Options{})
	t.Logf("Auto chose %v (euid %d)", r.w.Mode(), os.Geteuid())
	if r.w.Mode() == Auto {
		t.Error("Mode() = Auto")
	}
	if os.Geteuid() == 0 {
		if f, err := openFanotify(t.TempDir()); err == nil {
			f.Close()
			if r.w.Mode() != Fanotify {
				t.Errorf("root with fanotify: Auto chose %v", r.w.Mode())
			}
		}
	}
}

// TestLeaseOpenAtStart: a file already open for writing when the watcher
// starts is reported (its lease is refused), and once closed is leased
// again, so the next write-open is seen too.
func TestLeaseOpenAtStart(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "busy.txt")
	write(t, path, "x")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := startMode(t, root, Options{Mode: Lease})
	r.want(WriteOpen, "busy.txt")
	f.Close()
	r.want(Closed, "busy.txt")
	for range 3 {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		r.want(WriteOpen, "busy.txt")
		f.Close()
		r.want(Closed, "busy.txt")
	}
}

// TestFanotifyOpenAtStart: in Fanotify mode, files already open for
// writing when the watcher starts (here by a child process) are reported
// with their opener, found in /proc; a file open read-only is not, nor is
// one open by IgnorePid; the writer's close is a Closed as any other's.
func TestFanotifyOpenAtStart(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	busy, read, mine := filepath.Join(root, "sub", "busy.txt"), filepath.Join(root, "read.txt"), filepath.Join(root, "mine.txt")
	for _, p := range []string{busy, read, mine} {
		write(t, p, "x")
	}
	h := holdOpen(t, busy)
	rf, err := os.Open(read)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	mf, err := os.OpenFile(mine, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	// The child holds its descriptor once it wrote through it.
	deadline := time.Now().Add(waitLong)
	for {
		if b, _ := os.ReadFile(busy); strings.Contains(string(b), "more") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not open the file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := startMode(t, root, Options{Mode: Fanotify, IgnorePid: os.Getpid()})
	n := len(r.seen)
	if e := r.want(WriteOpen, "sub/busy.txt"); e.Pid != h.cmd.Process.Pid || e.User != currentUser(t) {
		t.Errorf("WriteOpen at start %v: want pid %d, user %q", e, h.cmd.Process.Pid, currentUser(t))
	}
	h.release()
	r.want(Closed, "sub/busy.txt")
	if bad := r.saw(n, func(e Event) bool { return e.Op == WriteOpen && (e.Path == "read.txt" || e.Path == "mine.txt") }); len(bad) > 0 {
		t.Errorf("reported at start: %v; want neither a read-only open nor IgnorePid's", bad)
	}
}

// TestLeaseBound: past MaxLeases, files are detected by their first
// modification instead.
func TestLeaseBound(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		write(t, filepath.Join(root, n), "x")
	}
	r := startMode(t, root, Options{Mode: Lease, MaxLeases: 1})
	r.w.leases.mu.Lock()
	leased := len(r.w.leases.files)
	r.w.leases.mu.Unlock()
	if leased != 1 {
		t.Errorf("%d files leased, want MaxLeases = 1", leased)
	}
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		f, err := os.OpenFile(filepath.Join(root, n), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("more")
		r.want(WriteOpen, n)
		f.Close()
		r.want(Closed, n)
	}
}

// TestLeaseBrokenWithoutClose: a truncate by path breaks a lease with no
// open, so no Closed ever comes from the kernel; the periodic re-arm finds
// nobody writing and reports the Closed.
func TestLeaseBrokenWithoutClose(t *testing.T) {
	saved := staleAfter
	staleAfter = 100 * time.Millisecond
	t.Cleanup(func() { staleAfter = saved })
	root := t.TempDir()
	write(t, filepath.Join(root, "t.txt"), "some content")
	r := startMode(t, root, Options{Mode: Lease})
	if err := os.Truncate(filepath.Join(root, "t.txt"), 2); err != nil {
		t.Fatal(err)
	}
	r.want(WriteOpen, "t.txt")
	r.want(Closed, "t.txt")
}

// TestCreatedFileWriteOpen: a file being written as it is created is a
// WriteOpen in every mode (fanotify sees the open, a lease is refused while
// it is open, the first write stands for it).
func TestCreatedFileWriteOpen(t *testing.T) {
	for _, mode := range []Mode{Fanotify, Lease, InotifyOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			r := startMode(t, root, Options{Mode: mode})
			f, err := os.Create(filepath.Join(root, "new.txt"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.WriteString("content")
			r.want(Created, "new.txt")
			r.want(WriteOpen, "new.txt")
			f.Close()
			r.want(Closed, "new.txt")
		})
	}
}

// TestRootRemoved: the watcher stops with an error when its root goes.
func TestRootRemoved(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	mkdirs(t, filepath.Join(root, "sub"))
	r := start(t, root, Options{})
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	for range r.w.Events() {
	}
	if err := r.w.Err(); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("Err after the root was removed: %v", err)
	}
}

// TestOverflow: with a tiny kernel queue and a reader that does not read,
// events are lost: Overflow is reported, and the watcher resyncs, so a
// folder made while events were lost is watched afterwards.
func TestOverflow(t *testing.T) {
	root := t.TempDir()
	r := startTinyQueue(t, root, Options{Mode: InotifyOnly, Tree: TreeInotify})

	// Nobody reads: the events channel, then the loop, then the kernel's
	// 16-event queue fill up.
	for i := range 2000 {
		write(t, filepath.Join(root, fmt.Sprintf("f%04d", i)), "x")
	}
	mkdirs(t, filepath.Join(root, "late"))
	r.waitFor("Overflow", func(e Event) bool { return e.Op == Overflow })
	// The flood may overflow the queue more than once: let it drain before
	// the check, whose own events must not be among those lost.
	r.drain(500 * time.Millisecond)
	write(t, filepath.Join(root, "late", "after.txt"), "x")
	r.want(Created, "late/after.txt")
}

// injectWatchBudget makes inotify_add_watch fail with ENOSPC, as the
// kernel does at the watch limit, once *budget watches were added.
func injectWatchBudget(t *testing.T) *int {
	orig := inotifyAddWatch
	t.Cleanup(func() { inotifyAddWatch = orig })
	budget := new(int)
	inotifyAddWatch = func(fd int, path string, mask uint32) (int, error) {
		if *budget <= 0 {
			return -1, unix.ENOSPC
		}
		*budget--
		return orig(fd, path, mask)
	}
	return budget
}

// startTinyQueue starts a watcher whose inotify instance has a kernel queue
// of 16 events, so that a test can make it overflow.
func startTinyQueue(t *testing.T, root string, opts Options) *rec {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lowering fs.inotify.max_queued_events needs root")
	}
	const sysctl = "/proc/sys/fs/inotify/max_queued_events"
	saved, err := os.ReadFile(sysctl)
	if err != nil {
		t.Skip(err)
	}
	orig := inotifyInit
	t.Cleanup(func() { inotifyInit = orig })
	inotifyInit = func() (int, error) {
		// The queue size is taken when the instance is made: lower it for
		// just that moment.
		if err := os.WriteFile(sysctl, []byte("16"), 0); err != nil {
			return -1, err
		}
		defer os.WriteFile(sysctl, saved, 0)
		return orig()
	}
	r := startMode(t, root, opts)
	inotifyInit = orig
	if now, _ := os.ReadFile(sysctl); string(now) != string(saved) {
		t.Fatalf("%s not restored: %q, was %q", sysctl, now, saved)
	}
	return r
}

// TestOverflowRechecksOpenFiles: a file reported open whose close was among
// the events lost is reported Closed after the Overflow, since nobody has
// it open for writing any more; one still open is not.
func TestOverflowRechecksOpenFiles(t *testing.T) {
	if !leasesEnabled() {
		t.Skip("leases are disabled: nothing can tell whether a file is still open for writing")
	}
	root := t.TempDir()
	// The kernel's queue is left as it is (lowering it is for the whole
	// machine): the flood is made large enough to overflow it, and the
	// watcher's own buffers, which hold a few thousand events more.
	queued := 16384
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		fmt.Sscan(string(b), &queued)
	}
	r := start(t, root, Options{Mode: InotifyOnly, Tree: TreeInotify})
	open := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(root, name), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if _, err := f.WriteString("first"); err != nil {
			t.Fatal(err)
		}
		return f
	}
	gone, still := open("gone.txt"), open("still.txt")
	r.want(WriteOpen, "gone.txt") // a first modification, in this mode
	r.want(WriteOpen, "still.txt")
	r.drain(200 * time.Millisecond)

	// Nobody reads while the flood fills every queue (three events a
	// file: create, close, delete); the close comes after it, when the
	// kernel's queue is full: it is lost.
	for i := range (queued + 16384) / 3 {
		p := filepath.Join(root, fmt.Sprintf("f%06d", i))
		write(t, p, "")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	r.waitFor("Overflow", func(e Event) bool { return e.Op == Overflow })
	r.want(Closed, "gone.txt")
	r.drain(500 * time.Millisecond)
	if got := r.saw(0, func(e Event) bool { return e.Op == Closed && e.Path == "still.txt" }); len(got) != 0 {
		t.Errorf("still.txt, open for writing, reported %v", got)
	}
	still.Close()
	r.want(Closed, "still.txt")
}

// TestOverflowUnseenModification: in Fanotify mode, a modification whose
// writer fanotify did not name (here IgnorePid's) waits fanGrace for its
// WriteOpen. The writer closes meanwhile, and its close is among the events
// lost. When the grace is over nobody has the file open for writing: no
// WriteOpen may be reported then, since no Closed would ever follow it and
// the lock taken for it would be held for ever (issue 17: a burst that
// overflowed the queue left a lock behind).
func TestOverflowUnseenModification(t *testing.T) {
	saved := fanGrace
	// Long enough for the flood and the Overflow to be over before it.
	fanGrace = 5 * time.Second
	t.Cleanup(func() { fanGrace = saved })
	root := t.TempDir()
	write(t, filepath.Join(root, "edited.txt"), "v1")
	r := startTinyQueue(t, root, Options{Mode: Fanotify, IgnorePid: os.Getpid(), Tree: TreeInotify})
	f, err := os.OpenFile(filepath.Join(root, "edited.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteString("v2"); err != nil {
		t.Fatal(err)
	}
	r.want(Changed, "edited.txt")
	graceOver := time.Now().Add(fanGrace)
	n := len(r.seen)
	// Nobody reads while the flood fills the watcher's buffers and the
	// kernel's 16-event queue; then the close comes, and is lost.
	for i := range 1000 {
		p := filepath.Join(root, fmt.Sprintf("f%04d", i))
		write(t, p, "")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r.waitFor("Overflow", func(e Event) bool { return e.Op == Overflow })
	r.drain(500 * time.Millisecond)
	if time.Now().After(graceOver) {
		t.Logf("the flood took longer than the grace (%s): this run cannot tell", fanGrace)
	}
	time.Sleep(time.Until(graceOver))
	r.drain(time.Second)
	var open bool
	for _, e := range r.seen[n:] {
		if e.Path == "edited.txt" && (e.Op == WriteOpen || e.Op == Closed) {
			open = e.Op == WriteOpen
		}
	}
	if open {
		t.Errorf("edited.txt, closed while events were lost, was reported open for writing after its close: no Closed follows; events: %v",
			r.saw(n, func(e Event) bool { return e.Op == Overflow || e.Path == "edited.txt" }))
	}
}

// TestWatchLimitInjected: a root that cannot be watched at all makes New
// fail with a *LimitError naming the sysctl; folders below it that cannot
// be watched are left out, reported once as Limited, and the watcher goes
// on reporting what happens in the folders it does watch.
func TestWatchLimitInjected(t *testing.T) {
	budget := injectWatchBudget(t)
	root := t.TempDir()
	for i := range 5 {
		mkdirs(t, filepath.Join(root, fmt.Sprint("d", i)))
	}
	*budget = 0
	_, err := New(context.Background(), root, Options{Mode: InotifyOnly, Tree: TreeInotify})
	checkLimitError(t, err)

	*budget = 1 // the root only
	r := start(t, root, Options{Mode: InotifyOnly, Tree: TreeInotify})
	lim := r.waitFor("Limited", func(e Event) bool { return e.Op == Limited })
	checkLimitError(t, lim.Err)
	if !strings.HasPrefix(lim.Path, "d") || !lim.IsDir {
		t.Errorf("Limited names %q (dir %v), want one of the folders d0..d4", lim.Path, lim.IsDir)
	}
	write(t, filepath.Join(root, "d0", "unseen.txt"), "x")
	mkdirs(t, filepath.Join(root, "late"))
	r.want(Created, "late") // its parent is watched; it is not
	write(t, filepath.Join(root, "late", "unseen.txt"), "x")
	write(t, filepath.Join(root, "seen.txt"), "x")
	r.want(Created, "seen.txt")
	r.mark(root)
	if got := r.saw(0, func(e Event) bool { return strings.HasSuffix(e.Path, "unseen.txt") || e.Op == Limited && e != lim }); len(got) != 0 {
		t.Errorf("reported from unwatched folders, or Limited twice: %v", got)
	}
	if err := r.w.Err(); err != nil {
		t.Errorf("the watcher stopped: %v", err)
	}
}

// TestWatchLimitFanotify: fanotify sees opens on the whole file system,
// but a write-open in a folder the watch limit left out is not reported:
// its Closed could never come, and the lock it would take would be held
// for ever. Write-opens in watched folders still are.
func TestWatchLimitFanotify(t *testing.T) {
	budget := injectWatchBudget(t)
	root := t.TempDir()
	mkdirs(t, filepath.Join(root, "d0"))
	write(t, filepath.Join(root, "d0", "out.txt"), "x")
	write(t, filepath.Join(root, "in.txt"), "x")
	*budget = 1 // the root only
	r := startMode(t, root, Options{Mode: Fanotify, Tree: TreeInotify})
	r.waitFor("Limited", func(e Event) bool { return e.Op == Limited && e.Path == "d0" })
	out := holdOpen(t, filepath.Join(root, "d0", "out.txt"))
	in := holdOpen(t, filepath.Join(root, "in.txt"))
	r.want(WriteOpen, "in.txt")
	in.release()
	r.want(Closed, "in.txt")
	out.release()
	r.mark(root)
	if got := r.saw(0, func(e Event) bool { return strings.HasPrefix(e.Path, "d0/") }); len(got) != 0 {
		t.Errorf("reported from the unwatched folder: %v", got)
	}
}

func checkLimitError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrWatchLimit) || !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("error %v, want ErrWatchLimit and ENOSPC", err)
	}
	var le *LimitError
	if !errors.As(err, &le) || le.Sysctl != "fs.inotify.max_user_watches" || le.Value <= 0 || le.Suggest <= le.Value {
		t.Errorf("error %#v, want a *LimitError naming fs.inotify.max_user_watches, its value and a higher one", err)
	}
	if !strings.Contains(err.Error(), "fs.inotify.max_user_watches") || !strings.Contains(err.Error(), "sysctl -w fs.inotify.max_user_watches=") {
		t.Errorf("message does not say what to raise: %v", err)
	}
}

// TestWatchLimitInUserNamespace: the real limit. fs.inotify.max_user_watches
// is shared by all of a user's processes, so rather than lowering it for
// the whole machine the test runs a child in a new user namespace, whose
// own limit (/proc/sys/user/max_inotify_watches) it lowers.
func TestWatchLimitInUserNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mapping uid 0 into a new user namespace needs root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=watchlimit")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Skipf("cannot start a child in a new user namespace: %v", err)
		}
		if ee.ExitCode() == childSkip {
			t.Skipf("child: %s", out)
		}
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

const (
	childEnv  = "PEERLINK_WATCH_TEST_CHILD"
	childSkip = 3
)

// runChild runs the part of a test that must happen in another process.
func runChild() int {
	switch os.Getenv(childEnv) {
	case "watchlimit":
		if err := childWatchLimit(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if errors.Is(err, errChildSkip) {
				return childSkip
			}
			return 1
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown child", os.Getenv(childEnv))
	return 2
}

var errChildSkip = errors.New("skip")

func childWatchLimit() error {
	const limit = "/proc/sys/user/max_inotify_watches"
	setLimit := func(n int) error {
		if err := os.WriteFile(limit, []byte(strconv.Itoa(n)), 0); err != nil {
			return fmt.Errorf("%w: cannot set %s in the new user namespace: %v", errChildSkip, limit, err)
		}
		return nil
	}
	root, err := os.MkdirTemp("", "watchlimit")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	for i := range 8 {
		if err := os.Mkdir(filepath.Join(root, fmt.Sprint("d", i)), 0o755); err != nil {
			return err
		}
	}
	if err := setLimit(0); err != nil {
		return err
	}
	_, err = New(context.Background(), root, Options{Mode: InotifyOnly, Tree: TreeInotify})
	if !errors.Is(err, ErrWatchLimit) || !strings.Contains(err.Error(), "sysctl -w fs.inotify.max_user_watches=") {
		return fmt.Errorf("New with a limit of 0: %v, want ErrWatchLimit naming the sysctl", err)
	}
	fmt.Println("no watch at all:", err)

	if err := setLimit(4); err != nil {
		return err
	}
	w, err := New(context.Background(), root, Options{Mode: InotifyOnly, Tree: TreeInotify})
	if err != nil {
		return fmt.Errorf("New with 9 folders and a limit of 4: %v, want it to watch what it can", err)
	}
	defer w.Close()
	next := func(match func(Event) bool) (Event, error) {
		timeout := time.After(waitLong)
		for {
			select {
			case ev, ok := <-w.Events():
				if !ok {
					return Event{}, fmt.Errorf("the watcher stopped: %v", w.Err())
				}
				if match(ev) {
					return ev, nil
				}
			case <-timeout:
				return Event{}, errors.New("timed out")
			}
		}
	}
	ev, err := next(func(e Event) bool { return e.Op == Limited })
	if err != nil {
		return fmt.Errorf("Limited with 9 folders and a limit of 4: %w", err)
	}
	if !errors.Is(ev.Err, ErrWatchLimit) || !strings.Contains(ev.Err.Error(), "sysctl -w fs.inotify.max_user_watches=") ||
		!strings.Contains(ev.Err.Error(), "user.max_inotify_watches") {
		return fmt.Errorf("Limited with %v, want ErrWatchLimit naming both sysctls", ev.Err)
	}
	fmt.Println("limited:", ev.Err)
	if err := os.Mkdir(filepath.Join(root, "new"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "after.txt"), nil, 0o644); err != nil {
		return err
	}
	if _, err := next(func(e Event) bool { return e.Op == Created && e.Path == "after.txt" }); err != nil {
		return fmt.Errorf("a file made in the root after the limit: %w", err)
	}
	return nil
}

// TestLockFileAnnouncedOnClose: a lock file created empty and written
// afterwards is announced with its user once its writer closes it.
func TestLockFileAnnouncedOnClose(t *testing.T) {
	saved := lockWait
	lockWait = time.Hour // only the close may announce it
	t.Cleanup(func() { lockWait = saved })
	root := t.TempDir()
	write(t, filepath.Join(root, "plan.odt"), "x")
	r := start(t, root, Options{Filter: defaultFilter(t)})
	f, err := os.Create(filepath.Join(root, ".~lock.plan.odt#"))
	if err != nil {
		t.Fatal(err)
	}
	r.mark(root)
	f.WriteString(libreOfficeLock)
	f.Close()
	if e := r.want(WriteOpen, "plan.odt"); e.User != "jane" {
		t.Errorf("WriteOpen %v: want user jane", e)
	}
}

// TestFolderRemovedWithLockFile: moving a folder out of the root ends the
// editing sessions of the lock files in it.
func TestFolderRemovedWithLockFile(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	mkdirs(t, filepath.Join(root, "p"))
	write(t, filepath.Join(root, "p", "a.odt"), "x")
	write(t, filepath.Join(root, "p", ".~lock.a.odt#"), libreOfficeLock)
	r := start(t, root, Options{Filter: defaultFilter(t)})
	r.want(WriteOpen, "p/a.odt")
	rename(t, filepath.Join(root, "p"), filepath.Join(root, "q"))
	r.wantRename("p", "q")
	rename(t, filepath.Join(root, "q"), filepath.Join(outside, "q"))
	if e := r.want(Closed, "q/a.odt"); e.LockFile != "q/.~lock.a.odt#" {
		t.Errorf("Closed %v", e)
	}
}

// TestPathsAreValid: names that are not valid watch-set paths are left out
// of every event but one Skipped each, whose path is printable.
func TestPathsAreValid(t *testing.T) {
	root := t.TempDir()
	r := start(t, root, Options{})
	write(t, filepath.Join(root, "back\\slash"), "x")
	write(t, filepath.Join(root, "bad\xff"), "x")
	r.mark(root)
	skipped := map[string]int{}
	for _, e := range r.seen {
		if e.Op == Skipped {
			skipped[e.Path]++
			if e.Err == nil {
				t.Errorf("Skipped without a reason: %v", e)
			}
			continue
		}
		if e.Path != "" && !validPath(e.Path) {
			t.Errorf("invalid path reported: %v", e)
		}
	}
	for _, p := range []string{"back\\slash", "bad\uFFFD"} {
		if skipped[p] != 1 {
			t.Errorf("%q reported Skipped %d times, want once (all: %v)", p, skipped[p], skipped)
		}
	}
}

// BenchmarkWriteOpenLatency measures, per mode, the time from the start of
// a read-write open(2) to the WriteOpen event (InotifyOnly: open and a
// one-byte write). Run with -benchtime=500x or so; it reports p50 and p99.
func BenchmarkWriteOpenLatency(b *testing.B) {
	for _, mode := range []Mode{Fanotify, Lease, InotifyOnly} {
		b.Run(mode.String(), func(b *testing.B) {
			root := b.TempDir()
			path := filepath.Join(root, "f.txt")
			write(b, path, "x")
			w, err := New(context.Background(), root, Options{Mode: mode})
			if err != nil {
				b.Skipf("%v: %v", mode, err)
			}
			defer w.Close()
			r := &rec{t: b, w: w}
			var lat []time.Duration
			for b.Loop() {
				if mode == Lease {
					// Wait for the re-arm after the last Closed, as a user's
					// next open would come much later.
					for w.leases.broken("f.txt") || !w.leases.tracked("f.txt") {
						time.Sleep(50 * time.Microsecond)
					}
				}
				t0 := time.Now()
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				if err != nil {
					b.Fatal(err)
				}
				if mode == InotifyOnly {
					f.Write([]byte("y"))
				}
				r.want(WriteOpen, "f.txt")
				lat = append(lat, time.Since(t0))
				f.Close()
				r.want(Closed, "f.txt")
				r.seen, r.used = r.seen[:0], r.used[:0]
			}
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// TestQuickWriters: a writer that opens, writes and closes at once (a
// shell's >>) still has its WriteOpen before its Closed in every mode, and
// no WriteOpen comes after the Closed.
func TestQuickWriters(t *testing.T) {
	for _, mode := range []Mode{Fanotify, Lease, InotifyOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "log.txt")
			write(t, path, "start\n")
			r := startMode(t, root, Options{Mode: mode})
			for i := range 20 {
				n := len(r.seen)
				out, err := exec.Command("sh", "-c", `echo line >> "$1"`, "sh", path).CombinedOutput()
				if err != nil {
					t.Skipf("no shell: %v %s", err, out)
				}
				r.want(Closed, "log.txt")
				r.mark(root)
				var ops []Op
				for _, e := range r.seen[n:] {
					if e.Path == "log.txt" && (e.Op == WriteOpen || e.Op == Closed) {
						ops = append(ops, e.Op)
					}
				}
				if !slices.Equal(ops, []Op{WriteOpen, Closed}) {
					t.Fatalf("write %d: %v, want WriteOpen then Closed; seen:\n%s", i, ops, r.dump())
				}
			}
		})
	}
}
