//go:build linux

package lock

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

const (
	session = "s1"
	nobody  = 65534
)

var alice = Holder{Host: "hostA", User: "alice"}

// env is a watch-set root with a Locker journaling to a real agent.db.
type env struct {
	t      *testing.T
	dir    string // the root
	dbPath string
	tr     *tree.Tree
	db     *store.Agent
	l      *Locker
	opts   Options
	warns  []string
	mu     sync.Mutex
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), dbPath: filepath.Join(t.TempDir(), "agent.db"), opts: opts}
	// Flags left set would keep TempDir from removing the files; this
	// cleanup, registered after TempDir's, runs before it.
	t.Cleanup(func() { clearFlags(e.dir) })
	// Let an unprivileged child reach and write the root.
	os.Chmod(filepath.Dir(e.dir), 0o755)
	os.Chmod(e.dir, 0o777)
	e.opts.Warn = func(path string, err error) {
		e.mu.Lock()
		e.warns = append(e.warns, path+": "+err.Error())
		e.mu.Unlock()
		t.Logf("warn: %s: %v", path, err)
	}
	e.open()
	t.Cleanup(func() { e.close() })
	return e
}

func (e *env) open() {
	e.t.Helper()
	var err error
	if e.tr, err = tree.Open(e.dir); err != nil {
		e.t.Fatal(err)
	}
	if e.db, err = store.OpenAgent(e.dbPath); err != nil {
		e.t.Fatal(err)
	}
	if e.l, err = New(e.tr, e.db, session, e.opts); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) close() {
	if e.db != nil {
		e.db.Close()
		e.tr.Close()
		e.db = nil
	}
}

// restart drops the Locker without releasing anything, as a killed agent
// would, and starts a new one on the same journal.
func (e *env) restart() {
	e.t.Helper()
	e.close()
	e.open()
}

func (e *env) path(rel string) string { return filepath.Join(e.dir, rel) }

func (e *env) write(rel, content string, mode os.FileMode) string {
	e.t.Helper()
	p := e.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) journal() []store.LockRecord {
	e.t.Helper()
	recs, err := e.db.Locks(session)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// state is what a lock changes of a file.
type state struct {
	ino   uint64
	mode  uint32 // with setuid, setgid, sticky
	flags uint32
}

func stateOf(t *testing.T, p string) state {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return state{ino: st.Ino, mode: st.Mode & 0o7777, flags: flagsOf(t, p)}
}

func flagsOf(t *testing.T, p string) uint32 {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fl, err := tree.Flags(f)
	if err != nil {
		t.Fatal(err)
	}
	return fl
}

func setFlagsOf(t *testing.T, p string, flags uint32) error {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return tree.SetFlags(f, flags)
}

// clearFlags clears the immutable and append-only flags below dir.
func clearFlags(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil
		}
		defer f.Close()
		if fl, err := tree.Flags(f); err == nil && fl&(flagImmutable|flagAppend) != 0 {
			tree.SetFlags(f, fl&^(flagImmutable|flagAppend))
		}
		return nil
	})
}

// needImmutable skips the test unless this process can set the immutable
// flag on the test's file system.
func (e *env) needImmutable() {
	e.t.Helper()
	p := e.write(".probe", "", 0o644)
	defer os.Remove(p)
	fl, err := func() (uint32, error) {
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return tree.Flags(f)
	}()
	if err == nil {
		err = setFlagsOf(e.t, p, fl|flagImmutable)
	}
	if err != nil {
		e.t.Skipf("the immutable flag cannot be set here (needs root with CAP_LINUX_IMMUTABLE on ext4, xfs or btrfs): %v", err)
	}
	setFlagsOf(e.t, p, fl)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs commands as another user")
	}
}

// asNobody runs a shell script as uid/gid 65534 and returns its error.
func asNobody(t *testing.T, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func q(p string) string { return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'" }

func isKind(err error, k wire.ErrKind) bool { return errors.Is(err, &wire.Error{Kind: k}) }

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestConstants(t *testing.T) {
	if flagImmutable != tree.FlagImmutable || flagAppend != tree.FlagAppend {
		t.Fatal("flag constants differ from sync/tree's")
	}
}

// TestLockStopsOwner: the strongest case, a file the unprivileged user
// owns in a folder the user may write: a lock stops an in-place write, a
// rename over the file, a chmod and a removal, and the unlock gives it all
// back.
func TestLockStopsOwner(t *testing.T) {
	needRoot(t)
	e := newEnv(t, Options{})
	e.needImmutable()
	p := e.write("docs/report.odt", "original", 0o664)
	os.Chown(filepath.Dir(p), nobody, nobody)
	os.Chown(p, nobody, nobody)
	other := e.write("docs/other.odt", "other", 0o644)
	os.Chown(other, nobody, nobody)
	if out, err := asNobody(t, "echo before >> "+q(p)); err != nil {
		t.Fatalf("the setup does not let the user write the file: %v %s", err, out)
	}
	before := stateOf(t, p)

	if err := e.l.Lock("docs/report.odt", alice); err != nil {
		t.Fatal(err)
	}
	got := stateOf(t, p)
	if got.mode != 0o444 || got.flags&flagImmutable == 0 || got.flags&^flagImmutable != before.flags {
		t.Fatalf("locked: mode %o flags %#x; want 0444 and %#x|immutable", got.mode, got.flags, before.flags)
	}
	for _, script := range []string{
		"echo x >> " + q(p),
		"mv -f " + q(other) + " " + q(p),
		"chmod u+w " + q(p),
		"rm -f " + q(p),
		"ln -f " + q(other) + " " + q(p),
	} {
		if out, err := asNobody(t, script); err == nil {
			t.Errorf("as an unprivileged owner, %q succeeded on a locked file", script)
		} else {
			t.Logf("%s: refused: %s", script, out)
		}
	}
	if c := readFile(t, p); c != "original\nbefore\n" && c != "originalbefore\n" {
		t.Errorf("content changed under the lock: %q", c)
	}
	if !exists(e.path("docs/.~lock.report.odt#")) {
		t.Error("no LibreOffice lock file")
	}

	if err := e.l.Unlock("docs/report.odt"); err != nil {
		t.Fatal(err)
	}
	if after := stateOf(t, p); after != before {
		t.Errorf("unlocked: %+v, want %+v", after, before)
	}
	if out, err := asNobody(t, "echo after >> "+q(p)); err != nil {
		t.Errorf("the owner cannot write after the unlock: %v %s", err, out)
	}
	if exists(e.path("docs/.~lock.report.odt#")) {
		t.Error("lock file left behind")
	}
	if recs := e.journal(); len(recs) != 0 || e.l.Locked("docs/report.odt") {
		t.Errorf("journal after unlock: %+v", recs)
	}
}

// TestLockWithoutImmutable shows what a lock is for an agent that cannot
// set the immutable flag (not root): other users' in-place writes are
// stopped; a rename over the file, and the owner's own chmod, are not.
func TestLockWithoutImmutable(t *testing.T) {
	needRoot(t)
	e := newEnv(t, Options{NoImmutable: true})
	shared := e.write("shared.txt", "shared", 0o666)
	owned := e.write("owned.txt", "owned", 0o644)
	os.Chown(owned, nobody, nobody)
	repl := e.write("repl.txt", "replacement", 0o644)
	for _, rel := range []string{"shared.txt", "owned.txt"} {
		if err := e.l.Lock(rel, alice); err != nil {
			t.Fatal(err)
		}
	}
	if s := stateOf(t, shared); s.mode != 0o444 || s.flags&flagImmutable != 0 {
		t.Fatalf("locked without the flag: %+v", s)
	}
	if _, err := asNobody(t, "echo x >> "+q(shared)); err == nil {
		t.Error("another user wrote in place a locked file")
	}
	if _, err := asNobody(t, "echo x >> "+q(owned)); err == nil {
		t.Error("the owner wrote in place a locked file without chmod first")
	}
	if out, err := asNobody(t, "chmod u+w "+q(owned)+" && echo x >> "+q(owned)); err != nil {
		t.Errorf("expected the owner's chmod u+w to get through a lock without the immutable flag: %v %s", err, out)
	}
	if out, err := asNobody(t, "mv -f "+q(repl)+" "+q(shared)); err != nil {
		t.Errorf("expected a rename over the file to get through a lock without the immutable flag: %v %s", err, out)
	}
	// The renamed-in file is another inode: Unlock must not touch it.
	replaced := stateOf(t, shared)
	if err := e.l.Unlock("shared.txt"); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, shared); s != replaced {
		t.Errorf("unlock changed the file renamed over the locked one: %+v, was %+v", s, replaced)
	}
}

func TestUnlockRestoresExactly(t *testing.T) {
	tests := []struct {
		mode  os.FileMode
		flags uint32
	}{
		{0o644, 0},
		{0o600, tree.FlagNodump},
		{0o777, 0},
		{0o444, 0},
		{0o4755 | os.ModeSetuid, 0}, // os.Chmod wants the Go bit; see below
		{0o2770 | os.ModeSetgid, tree.FlagNodump},
		{0o1666 | os.ModeSticky, 0},
		{0o666, flagAppend},
	}
	e := newEnv(t, Options{})
	for i, tt := range tests {
		rel := fmt.Sprintf("f%d.odt", i)
		p := e.write(rel, "x", tt.mode)
		if tt.flags != 0 {
			if err := setFlagsOf(t, p, flagsOf(t, p)|tt.flags); err != nil {
				t.Skipf("cannot set flags %#x: %v", tt.flags, err)
			}
		}
		before := stateOf(t, p)
		if err := e.l.Lock(rel, alice); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		locked := stateOf(t, p)
		if locked.mode != before.mode&^0o222 {
			t.Errorf("%s: locked mode %o, want %o", rel, locked.mode, before.mode&^0o222)
		}
		if err := e.l.Unlock(rel); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if after := stateOf(t, p); after != before {
			t.Errorf("%s: after unlock %+v (mode %o), want %+v (mode %o)", rel, after, after.mode, before, before.mode)
		}
	}
}

func TestImmutableBeforeLockStays(t *testing.T) {
	e := newEnv(t, Options{})
	e.needImmutable()
	p := e.write("frozen.odt", "x", 0o644)
	if err := setFlagsOf(t, p, flagsOf(t, p)|flagImmutable); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, p)
	if err := e.l.Lock("frozen.odt", alice); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s != before {
		t.Errorf("a file immutable already was changed by the lock: %+v, was %+v", s, before)
	}
	if err := e.l.Unlock("frozen.odt"); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s != before || s.flags&flagImmutable == 0 {
		t.Errorf("after unlock %+v, want %+v with the immutable flag", s, before)
	}
}

// holdOpen starts a child process that holds p open with the shell
// redirection redir ("3>>" for writing, "3<" for reading) until the test
// ends.
func holdOpen(t *testing.T, p, redir string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "exec "+redir+q(p)+"; echo ready; exec sleep 60")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
}

func TestLockRefusesFileOpenForWriting(t *testing.T) {
	for _, viaProc := range []bool{false, true} {
		t.Run(map[bool]string{false: "lease", true: "proc"}[viaProc], func(t *testing.T) {
			e := newEnv(t, Options{})
			e.l.noLease = viaProc
			p := e.write("busy.odt", "x", 0o644)
			before := stateOf(t, p)
			holdOpen(t, p, "3>>")
			err := e.l.Lock("busy.odt", alice)
			if !isKind(err, wire.KindBusy) {
				t.Fatalf("lock of a file open for writing: %v, want KindBusy", err)
			}
			t.Log(err)
			if s := stateOf(t, p); s != before {
				t.Errorf("refused lock changed the file: %+v, was %+v", s, before)
			}
			if recs := e.journal(); len(recs) != 0 || e.l.Locked("busy.odt") || exists(e.path(".~lock.busy.odt#")) {
				t.Errorf("refused lock left a record %+v or a lock file", recs)
			}

			// In this process, too.
			f, err := os.OpenFile(e.write("mine.odt", "x", 0o644), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.l.Lock("mine.odt", alice); !isKind(err, wire.KindBusy) {
				t.Errorf("lock of a file this process has open for writing: %v", err)
			}
			f.Close()

			// Open for reading only: locked.
			r := e.write("read.odt", "x", 0o644)
			holdOpen(t, r, "3<")
			if err := e.l.Lock("read.odt", alice); err != nil {
				t.Errorf("lock of a file open for reading: %v", err)
			}
		})
	}
}

func TestProcWriteOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, nil, 0o644)
	var st unix.Stat_t
	unix.Stat(p, &st)
	check := func(want bool) {
		t.Helper()
		got, err := procWriteOpen(uint64(st.Dev), uint64(st.Ino))
		if err != nil && os.Geteuid() == 0 {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("procWriteOpen = %v, want %v", got, want)
		}
	}
	check(false)
	r, _ := os.Open(p)
	check(false)
	w, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	check(true)
	w.Close()
	check(false)
	r.Close()
	if flags, ok := fdinfoFlags([]byte("pos:\t0\nflags:\t0100002\nmnt_id:\t29\n")); !ok || flags != 0o100002 {
		t.Errorf("fdinfoFlags = %o, %v", flags, ok)
	}
}

func TestLockRefusesLocalLibreOfficeUser(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("plan.ods", "x", 0o644)
	before := stateOf(t, p)
	lf := e.write(".~lock.plan.ods#", ",bob,this-host,01.02.2024 10:30,file:///home/bob/.config/libreoffice/4;", 0o644)
	err := e.l.Lock("plan.ods", alice)
	if !isKind(err, wire.KindBusy) || !strings.Contains(err.Error(), "bob") {
		t.Fatalf("lock of a document open in LibreOffice here: %v", err)
	}
	if s := stateOf(t, p); s != before || len(e.journal()) != 0 {
		t.Errorf("refused lock changed the file or the journal")
	}
	if readFile(t, lf) != ",bob,this-host,01.02.2024 10:30,file:///home/bob/.config/libreoffice/4;" {
		t.Error("the local user's lock file was changed")
	}
}

func TestLockFiles(t *testing.T) {
	now := time.Date(2024, 3, 5, 9, 7, 0, 0, time.Local)
	clock := now
	e := newEnv(t, Options{Now: func() time.Time { return clock }, EchoWindow: time.Second})
	e.write("team/Document1.docx", "doc", 0o644)
	if err := e.l.Lock("team/Document1.docx", alice); err != nil {
		t.Fatal(err)
	}
	lo, mso := "team/.~lock.Document1.docx#", "team/~$cument1.docx"
	if got := readFile(t, e.path(lo)); got != "alice on hostA,alice,hostA,05.03.2024 09:07,;" {
		t.Errorf("LibreOffice lock file: %q", got)
	}
	b := []byte(readFile(t, e.path(mso)))
	if name, ok := parseMSO(b); len(b) != 162 || !ok || name != "alice on hostA" {
		t.Errorf("owner file: %d bytes, name %q %v", len(b), name, ok)
	}
	for _, p := range []string{lo, mso} {
		if fi, err := os.Stat(e.path(p)); err != nil || fi.Mode().Perm() != lockFileMode {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
		if !e.l.OwnLockFile(p) {
			t.Errorf("OwnLockFile(%s) = false while locked", p)
		}
	}
	if e.l.OwnLockFile("team/Document1.docx") || e.l.OwnLockFile("team/.~lock.other.docx#") {
		t.Error("OwnLockFile claims a file it did not write")
	}
	rec := e.journal()[0]
	if rec.LockFile != lo+"\x00"+mso || rec.Holder != "alice@hostA" {
		t.Errorf("record: lock files %q, holder %q", rec.LockFile, rec.Holder)
	}

	// A new holder: the lock files name it, the original mode stays.
	bob := Holder{Host: "hostB", User: "bob"}
	if err := e.l.Lock("team/Document1.docx", bob); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, e.path(lo)); !strings.HasPrefix(got, "bob on hostB,bob,hostB,") {
		t.Errorf("LibreOffice lock file after the holder changed: %q", got)
	}
	if name, _ := parseMSO([]byte(readFile(t, e.path(mso)))); name != "bob on hostB" {
		t.Errorf("owner file after the holder changed names %q", name)
	}
	if rec := e.journal()[0]; rec.Mode != 0o644 {
		t.Errorf("a second Lock recorded mode %o as the original", rec.Mode)
	}

	if err := e.l.Unlock("team/Document1.docx"); err != nil {
		t.Fatal(err)
	}
	if exists(e.path(lo)) || exists(e.path(mso)) {
		t.Error("lock files left after unlock")
	}
	// The removal's events are still the Locker's for a while...
	if !e.l.OwnLockFile(lo) {
		t.Error("OwnLockFile forgot a removal at once")
	}
	// ...unless a local user's lock file is there now.
	e.write(lo, ",carol,here,05.03.2024 09:08,file:///x;", 0o644)
	if e.l.OwnLockFile(lo) {
		t.Error("OwnLockFile claims a local user's lock file")
	}
	clock = clock.Add(2 * time.Second)
	if e.l.OwnLockFile(mso) {
		t.Error("OwnLockFile claims a removal older than the echo window")
	}
}

// A local user replaced the mirrored lock file (LibreOffice's "Open"
// anyway): unlock leaves that one alone.
func TestUnlockKeepsForeignLockFile(t *testing.T) {
	e := newEnv(t, Options{})
	e.write("a.odt", "x", 0o644)
	if err := e.l.Lock("a.odt", alice); err != nil {
		t.Fatal(err)
	}
	lf := e.path(".~lock.a.odt#")
	os.Remove(lf)
	e.write(".~lock.a.odt#", ",carol,here,05.03.2024 09:08,file:///x;", 0o644)
	if err := e.l.Unlock("a.odt"); err != nil {
		t.Fatal(err)
	}
	if !exists(lf) {
		t.Error("unlock removed a local user's lock file")
	}
}

func commitFile(tr *tree.Tree, rel, content string, mode uint32, have *wire.Entry) func() error {
	return func() error {
		p, err := tr.Create(rel)
		if err != nil {
			return err
		}
		io.WriteString(p, content)
		want := wire.Entry{Path: rel, Kind: wire.KindFile, Size: int64(len(content)), Mtime: time.Now().UnixNano(), Mode: mode, Hash: sha256.Sum256([]byte(content))}
		return p.Commit(want, have)
	}
}

func (e *env) entry(rel string) *wire.Entry {
	e.t.Helper()
	info, err := e.tr.Lstat(rel)
	if err != nil {
		e.t.Fatal(err)
	}
	en := info.Entry(rel)
	return &en
}

func TestReplace(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("r.docx", "old", 0o644)
	if err := e.l.Lock("r.docx", alice); err != nil {
		t.Fatal(err)
	}
	err := e.l.Replace("r.docx", commitFile(e.tr, "r.docx", "new content", 0o640, e.entry("r.docx")))
	if err != nil {
		t.Fatal(err)
	}
	if c := readFile(t, p); c != "new content" {
		t.Errorf("content %q", c)
	}
	if s := stateOf(t, p); s.mode != 0o640 || s.flags&flagImmutable != 0 {
		t.Errorf("replaced file: mode %o flags %#x; want 0640 and no immutable flag", s.mode, s.flags)
	}
	if e.l.Locked("r.docx") || len(e.journal()) != 0 || exists(e.path(".~lock.r.docx#")) || exists(e.path("~$r.docx")) {
		t.Error("lock, record or lock file left after Replace")
	}
	// Not locked: Replace just commits.
	if err := e.l.Replace("r.docx", commitFile(e.tr, "r.docx", "newer", 0o600, e.entry("r.docx"))); err != nil || readFile(t, p) != "newer" {
		t.Errorf("Replace of an unlocked file: %v", err)
	}
}

// A replaced file that has another name (a hard link) gets its mode back:
// nothing is left read-only.
func TestReplaceRestoresOldInode(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("h.odt", "old", 0o664)
	if err := os.Link(p, e.path("h-link.odt")); err != nil {
		t.Skip(err)
	}
	before := stateOf(t, p)
	if err := e.l.Lock("h.odt", alice); err != nil {
		t.Fatal(err)
	}
	if err := e.l.Replace("h.odt", commitFile(e.tr, "h.odt", "new", 0o644, e.entry("h.odt"))); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, e.path("h-link.odt")); s != before {
		t.Errorf("the old inode: %+v, want %+v", s, before)
	}
}

func TestReplaceFailedCommitKeepsLock(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("k.odt", "old", 0o644)
	if err := e.l.Lock("k.odt", alice); err != nil {
		t.Fatal(err)
	}
	locked := stateOf(t, p)
	rec := e.journal()
	boom := errors.New("disk full")
	err := e.l.Replace("k.odt", func() error {
		// The flag is off while commit runs, or its rename would fail.
		if s := stateOf(t, p); s.flags&flagImmutable != 0 {
			t.Error("immutable flag still set during commit")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Replace = %v, want the commit's error", err)
	}
	if s := stateOf(t, p); s != locked {
		t.Errorf("after a failed commit: %+v, want %+v", s, locked)
	}
	if got := e.journal(); !slices.EqualFunc(got, rec, recEqual) || !e.l.Locked("k.odt") || !exists(e.path(".~lock.k.odt#")) {
		t.Errorf("journal after a failed commit %+v, want %+v (and the lock file)", got, rec)
	}
	if readFile(t, p) != "old" {
		t.Error("content changed")
	}
	if err := e.l.Unlock("k.odt"); err != nil || stateOf(t, p).mode != 0o644 {
		t.Errorf("unlock after a failed Replace: %v", err)
	}
}

func recEqual(a, b store.LockRecord) bool {
	return a.Path == b.Path && a.Dev == b.Dev && a.Ino == b.Ino && a.Gen == b.Gen && a.Mode == b.Mode && a.Flags == b.Flags && a.Holder == b.Holder && a.LockFile == b.LockFile && a.Since.Equal(b.Since)
}

// A commit that renamed the new file in and then failed (its folder's
// fsync, say): the new file is locked in its turn, journaled first.
func TestReplaceCommitFailedAfterRename(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("n.odt", "old", 0o644)
	if err := e.l.Lock("n.odt", alice); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("fsync failed")
	err := e.l.Replace("n.odt", func() error {
		if err := commitFile(e.tr, "n.odt", "new", 0o640, e.entry("n.odt"))(); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Replace = %v", err)
	}
	s := stateOf(t, p)
	recs := e.journal()
	if len(recs) != 1 || recs[0].Ino != s.ino || recs[0].Mode != 0o640 || s.mode != 0o440 {
		t.Fatalf("new file %+v, journal %+v: want the new inode locked, original mode 0640", s, recs)
	}
	if err := e.l.Unlock("n.odt"); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s.mode != 0o640 || s.flags&flagImmutable != 0 || readFile(t, p) != "new" {
		t.Errorf("after unlock %+v", s)
	}
}

// A crash at each step of Lock, Unlock and Replace leaves a journal from
// which Reconcile undoes everything.
func TestCrashThenReconcile(t *testing.T) {
	type crashOp struct {
		name  string
		setup bool // lock first, then crash during op
		op    func(e *env) error
		step  string
	}
	lock := func(e *env) error { return e.l.Lock("c/doc.docx", alice) }
	unlock := func(e *env) error { return e.l.Unlock("c/doc.docx") }
	replace := func(e *env) error {
		return e.l.Replace("c/doc.docx", commitFile(e.tr, "c/doc.docx", "new", 0o600, e.entry("c/doc.docx")))
	}
	var cases []crashOp
	for _, s := range []string{"journaled", "chmod", "flags", "lockfile"} {
		cases = append(cases, crashOp{"lock after " + s, false, lock, s})
	}
	for _, s := range []string{"unflagged", "chmod", "restored", "lockfiles"} {
		cases = append(cases, crashOp{"unlock after " + s, true, unlock, s})
	}
	for _, s := range []string{"cleared", "committed"} {
		cases = append(cases, crashOp{"replace after " + s, true, replace, s})
	}
	cases = append(cases, crashOp{"no crash", false, lock, ""})
	type crashed struct{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			p := e.write("c/doc.docx", "old", 0o664)
			setFlagsOf(t, p, flagsOf(t, p)|tree.FlagNodump)
			before := stateOf(t, p)
			if tc.setup {
				if err := lock(e); err != nil {
					t.Fatal(err)
				}
			}
			e.l.crash = func(step string) {
				if step == tc.step {
					panic(crashed{})
				}
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(crashed); !ok {
							panic(r)
						}
						t.Logf("crashed after %s", tc.step)
					}
				}()
				if err := tc.op(e); err != nil {
					t.Fatal(err)
				}
				if tc.step != "" {
					t.Fatalf("step %q never reached", tc.step)
				}
			}()

			e.restart()
			if err := e.l.Reconcile(nil); err != nil {
				t.Fatal(err)
			}
			after := stateOf(t, p)
			if readFile(t, p) == "new" {
				// The commit got through: the new file keeps its mode.
				if after.mode != 0o600 || after.flags&flagImmutable != 0 {
					t.Errorf("new file after reconcile: %+v", after)
				}
			} else if after != before {
				t.Errorf("after reconcile %+v, want %+v", after, before)
			}
			if recs := e.journal(); len(recs) != 0 || len(e.l.Held()) != 0 {
				t.Errorf("journal after reconcile: %+v", recs)
			}
			for _, lf := range []string{"c/.~lock.doc.docx#", "c/~$doc.docx"} {
				if exists(e.path(lf)) {
					t.Errorf("%s left behind", lf)
				}
			}
			if ents, _ := os.ReadDir(e.path("c")); len(ents) != 1 {
				t.Errorf("files left in the folder: %v", ents)
			}
		})
	}
}

func TestReconcileKeeps(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.write("a.odt", "a", 0o644)
	b := e.write("b.odt", "b", 0o644)
	for _, rel := range []string{"a.odt", "b.odt"} {
		if err := e.l.Lock(rel, alice); err != nil {
			t.Fatal(err)
		}
	}
	lockedA := stateOf(t, a)
	e.restart()
	if !e.l.Locked("a.odt") || !slices.Equal(e.l.Held(), []string{"a.odt", "b.odt"}) {
		t.Fatalf("a new Locker does not know the journaled locks: %v", e.l.Held())
	}
	if err := e.l.Reconcile(func(p string) bool { return p == "a.odt" }); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, a); s != lockedA || !e.l.Locked("a.odt") || !exists(e.path(".~lock.a.odt#")) {
		t.Errorf("kept lock: %+v, want %+v", s, lockedA)
	}
	if s := stateOf(t, b); s.mode != 0o644 || s.flags&flagImmutable != 0 || e.l.Locked("b.odt") || exists(e.path(".~lock.b.odt#")) {
		t.Errorf("undone lock: %+v", s)
	}
	if got := e.l.Held(); !slices.Equal(got, []string{"a.odt"}) {
		t.Errorf("Held = %v", got)
	}
}

// A lock cut short by a crash is completed by Reconcile when the hub still
// holds it.
func TestReconcileCompletesKeptLock(t *testing.T) {
	e := newEnv(t, Options{})
	e.needImmutable()
	p := e.write("half.odt", "x", 0o644)
	e.l.crash = func(step string) {
		if step == "chmod" {
			panic("crash")
		}
	}
	func() {
		defer func() { recover() }()
		e.l.Lock("half.odt", alice)
	}()
	if s := stateOf(t, p); s.flags&flagImmutable != 0 || exists(e.path(".~lock.half.odt#")) {
		t.Fatal("the crash came too late")
	}
	e.restart()
	if err := e.l.Reconcile(func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s.mode != 0o444 || s.flags&flagImmutable == 0 || !exists(e.path(".~lock.half.odt#")) {
		t.Errorf("kept lock not completed: %+v", s)
	}
	if recs := e.journal(); len(recs) != 1 || recs[0].Mode != 0o644 {
		t.Errorf("journal: %+v", recs)
	}
}

// The inode at the path is not the locked one any more: Unlock must not
// chmod it, only remove the lock files and the record.
func TestUnlockReplacedFile(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("g.odt", "old", 0o644)
	if err := e.l.Lock("g.odt", alice); err != nil {
		t.Fatal(err)
	}
	if err := setFlagsOf(t, p, flagsOf(t, p)&^flagImmutable); err != nil {
		t.Fatal(err)
	}
	e.write("g.new", "new", 0o600)
	if err := os.Rename(e.path("g.new"), p); err != nil {
		t.Fatal(err)
	}
	replaced := stateOf(t, p)
	if err := e.l.Unlock("g.odt"); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s != replaced {
		t.Errorf("unlock touched the new inode: %+v, was %+v", s, replaced)
	}
	if exists(e.path(".~lock.g.odt#")) || len(e.journal()) != 0 {
		t.Error("lock file or record left")
	}
}

// Same device and inode number, another generation: an inode number
// reused by a new file. Unlock must leave it alone.
func TestUnlockChecksGeneration(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("gen.odt", "x", 0o644)
	if err := e.l.Lock("gen.odt", alice); err != nil {
		t.Fatal(err)
	}
	rec := e.journal()[0]
	if rec.Gen == genUnknown {
		t.Skip("this file system has no inode generations")
	}
	rec.Gen ^= 1
	if err := e.db.PutLocks(rec); err != nil {
		t.Fatal(err)
	}
	e.restart()
	locked := stateOf(t, p)
	if err := e.l.Unlock("gen.odt"); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s != locked {
		t.Errorf("unlock restored onto an inode of another generation: %+v, was %+v", s, locked)
	}
}

func TestLockRefusesWhatIsNotAFile(t *testing.T) {
	e := newEnv(t, Options{})
	os.Mkdir(e.path("dir.odt"), 0o755)
	e.write("target.odt", "x", 0o644)
	os.Symlink("target.odt", e.path("link.odt"))
	for _, rel := range []string{"dir.odt", "link.odt"} {
		if err := e.l.Lock(rel, alice); !isKind(err, wire.KindInvalid) {
			t.Errorf("Lock(%s) = %v, want KindInvalid", rel, err)
		}
	}
	if err := e.l.Lock("missing.odt", alice); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lock(missing) = %v", err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", ""} {
		if err := e.l.Lock(bad, alice); !isKind(err, wire.KindInvalid) {
			t.Errorf("Lock(%q) = %v", bad, err)
		}
	}
	if err := e.l.Lock("target.odt", Holder{Host: "bad@host"}); !isKind(err, wire.KindInvalid) {
		t.Errorf("bad holder: %v", err)
	}
	if s := stateOf(t, e.path("target.odt")); s.mode != 0o644 || len(e.journal()) != 0 {
		t.Error("refused locks changed something")
	}
	if err := e.l.Unlock("never-locked.odt"); err != nil {
		t.Errorf("Unlock of an unlocked path: %v", err)
	}
}

// Removing the locked file (root can, after clearing the flag) leaves
// nothing to restore: Unlock cleans up the rest.
func TestUnlockRemovedFile(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("gone.odt", "x", 0o644)
	if err := e.l.Lock("gone.odt", alice); err != nil {
		t.Fatal(err)
	}
	clearFlags(e.dir)
	os.Remove(p)
	if err := e.l.Unlock("gone.odt"); err != nil {
		t.Fatal(err)
	}
	if exists(e.path(".~lock.gone.odt#")) || len(e.journal()) != 0 {
		t.Error("lock file or record left")
	}
}

func TestConcurrentLocks(t *testing.T) {
	e := newEnv(t, Options{})
	var want []string
	for i := range 24 {
		rel := fmt.Sprintf("d%d/f%02d.xlsx", i%3, i)
		e.write(rel, "x", 0o664)
		want = append(want, rel)
	}
	slices.Sort(want)
	run := func(fn func(string) error) {
		var wg sync.WaitGroup
		for _, rel := range want {
			for range 2 { // twice each: calls for one path run one at a time
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := fn(rel); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
	}
	run(func(rel string) error { return e.l.Lock(rel, alice) })
	if got := e.l.Held(); !slices.Equal(got, want) {
		t.Fatalf("Held = %v", got)
	}
	for _, rec := range e.journal() {
		if rec.Mode != 0o664 {
			t.Errorf("%s: journaled mode %o", rec.Path, rec.Mode)
		}
	}
	run(e.l.Unlock)
	for _, rel := range want {
		if s := stateOf(t, e.path(rel)); s.mode != 0o664 || s.flags&flagImmutable != 0 {
			t.Errorf("%s: %+v", rel, s)
		}
	}
	if len(e.l.Held()) != 0 || len(e.journal()) != 0 {
		t.Error("locks left")
	}
}

// tree.Flags and tree.Generation read what lsattr(1) shows.
func TestTreeFlagsMatchLsattr(t *testing.T) {
	lsattr, err := exec.LookPath("lsattr")
	if err != nil {
		t.Skip("no lsattr")
	}
	e := newEnv(t, Options{})
	p := e.write("x.odt", "x", 0o644)
	if err := setFlagsOf(t, p, flagsOf(t, p)|tree.FlagNodump); err != nil {
		t.Skip(err)
	}
	out, err := exec.Command(lsattr, "-v", p).Output()
	if err != nil {
		t.Skip(err)
	}
	var gen uint64
	var attrs string
	fmt.Sscan(string(out), &gen, &attrs)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if g, err := tree.Generation(f); err != nil || g != gen {
		t.Errorf("Generation = %d, %v; lsattr -v says %d", g, err, gen)
	}
	if fl, _ := tree.Flags(f); fl&tree.FlagNodump == 0 || !strings.Contains(attrs, "d") {
		t.Errorf("Flags = %#x, lsattr says %s", fl, attrs)
	}
}

// On tmpfs there are inode flags but no generation: locks match files by
// device and inode number alone.
func TestTmpfsWithoutGeneration(t *testing.T) {
	var sfs unix.Statfs_t
	if unix.Statfs("/dev/shm", &sfs) != nil || sfs.Type != unix.TMPFS_MAGIC {
		t.Skip("no tmpfs at /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "locktest")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { clearFlags(dir); os.RemoveAll(dir) })
	tr, err := tree.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	db, err := store.OpenAgent(filepath.Join(t.TempDir(), "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := New(tr, db, session, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "t.odt")
	os.WriteFile(p, []byte("x"), 0o640)
	before := stateOf(t, p)
	if err := l.Lock("t.odt", alice); err != nil {
		t.Fatal(err)
	}
	recs, _ := db.Locks(session)
	if len(recs) != 1 || recs[0].Gen != genUnknown {
		t.Fatalf("journal: %+v", recs)
	}
	if s := stateOf(t, p); s.mode != 0o440 {
		t.Errorf("locked on tmpfs: %+v", s)
	}
	if err := l.Unlock("t.odt"); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s != before {
		t.Errorf("after unlock %+v, want %+v", s, before)
	}
}

// Where the file system has no inode flags (flagsOK false), a lock is the
// mode alone and the flags are never touched.
func TestWithoutInodeFlags(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("nf.odt", "x", 0o664)
	setFlagsOf(t, p, flagsOf(t, p)|tree.FlagNodump)
	before := stateOf(t, p)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := identify(f)
	if err != nil {
		t.Fatal(err)
	}
	id.flagsOK, id.flags = false, 0
	rec := store.LockRecord{Path: "nf.odt", Dev: id.dev, Ino: id.ino, Gen: id.gen, Mode: id.mode, Flags: id.recFlags()}
	if rec.Flags != flagsUnknown {
		t.Fatalf("recorded flags %#x", rec.Flags)
	}
	if err := e.l.enforce(f, &id, rec); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s.mode != 0o444 || s.flags != before.flags {
		t.Errorf("locked: %+v", s)
	}
	if err := e.l.restore(f, &id, rec); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s != before {
		t.Errorf("restored: %+v, want %+v", s, before)
	}
}

func BenchmarkLockUnlock(b *testing.B) {
	dir := b.TempDir()
	b.Cleanup(func() { clearFlags(dir) })
	tr, err := tree.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	db, err := store.OpenAgent(filepath.Join(b.TempDir(), "agent.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := New(tr, db, session, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"plain.bin", "doc.docx"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644)
		b.Run(name, func(b *testing.B) {
			var lock, unlock time.Duration
			for b.Loop() {
				t0 := time.Now()
				if err := l.Lock(name, alice); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := l.Unlock(name); err != nil {
					b.Fatal(err)
				}
				lock += t1.Sub(t0)
				unlock += time.Since(t1)
			}
			b.ReportMetric(float64(lock.Microseconds())/float64(b.N), "lock-us/op")
			b.ReportMetric(float64(unlock.Microseconds())/float64(b.N), "unlock-us/op")
		})
	}
}

// A locked copy renamed by a user, which a lock without the immutable
// flag allows: under its new name it is nobody's locked copy, so its own
// mode goes back on there and the lock of the old name ends (make chaos,
// seed 3535: the read-only mode of the lock spread to every host as the
// user's).
func TestMovedAwayRestoresTheRenamedCopy(t *testing.T) {
	needRoot(t)
	e := newEnv(t, Options{NoImmutable: true})
	old := e.write("notes.md", "notes", 0o664)
	if err := e.l.Lock("notes.md", alice); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, old); s.mode != 0o444 {
		t.Fatalf("locked: %+v", s)
	}
	moved := filepath.Join(filepath.Dir(old), "f1.txt")
	if err := os.Rename(old, moved); err != nil {
		t.Fatal(err)
	}
	if err := e.l.MovedAway("notes.md", "f1.txt"); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, moved); s.mode != 0o664 {
		t.Errorf("the renamed copy has mode %o, want its own 664 back", s.mode)
	}
	if e.l.Locked("notes.md") || len(e.l.Held()) != 0 {
		t.Errorf("the old name is still locked: %v", e.l.Held())
	}
	if err := e.l.MovedAway("other.md", "x.md"); err != nil {
		t.Errorf("MovedAway of a path not locked: %v", err)
	}
}

// A user renames the locked copy away while Replace has its immutable flag
// off, and the commit fails for it (the fetch found its basis gone): the
// inode under its new name gets its own mode and flags back, and the lock
// ends (make chaos, seed 3535: the lock's read-only mode spread to every
// host as the user's).
func TestReplaceCopyRenamedAwayGetsItsModeBack(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("notes.md", "old", 0o664)
	if err := e.l.Lock("notes.md", alice); err != nil {
		t.Fatal(err)
	}
	moved := e.path("f1.txt")
	gone := errors.New("removed while its new version was rebuilt from it")
	err := e.l.Replace("notes.md", func() error {
		if err := os.Rename(p, moved); err != nil {
			t.Fatal(err)
		}
		return gone
	})
	if !errors.Is(err, gone) {
		t.Fatalf("Replace = %v, want the commit's error", err)
	}
	if s := stateOf(t, moved); s.mode != 0o664 || s.flags&flagImmutable != 0 {
		t.Errorf("the copy renamed away: %+v, want mode 664 and no immutable flag", s)
	}
	if e.l.Locked("notes.md") || len(e.journal()) != 0 {
		t.Errorf("the lock of the name renamed away remains: %+v", e.journal())
	}
}
