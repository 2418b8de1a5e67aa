package tree

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/wire"
)

func openTree(t testing.TB) (*Tree, string) {
	t.Helper()
	dir := t.TempDir()
	tr, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, dir
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func entryFor(path, content string, mtime int64, mode uint32) wire.Entry {
	return wire.Entry{Path: path, Kind: wire.KindFile, Size: int64(len(content)), Mtime: mtime, Mode: mode, Hash: sha256.Sum256([]byte(content))}
}

// put writes content to path through a Pending and commits it.
func put(t testing.TB, tr *Tree, want wire.Entry, content string, have *wire.Entry) error {
	t.Helper()
	p, err := tr.Create(want.Path)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(p, content); err != nil {
		p.Abort()
		return err
	}
	return p.Commit(want, have)
}

// temps lists the peerlink temp files below dir.
func temps(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && IsTemp(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func isKind(err error, k wire.ErrKind) bool { return errors.Is(err, &wire.Error{Kind: k}) }

func TestOpenSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, "x")
	tests := []struct {
		name, root, says string
		kind             wire.ErrKind
		cause            error
	}{
		{"a relative root", "relative/path", "not an absolute path", wire.KindInvalid, nil},
		{"a missing root", filepath.Join(dir, "missing"), "does not exist: create it or fix the session's --host HOST=" + filepath.Join(dir, "missing"), wire.KindNotFound, fs.ErrNotExist},
		{"a file as root", file, "is not a folder", wire.KindInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := Open(tt.root)
			if err == nil {
				tr.Close()
				t.Fatal("Open succeeded")
			}
			// What the console shows is what crosses the wire.
			we := wire.ToError("attach", "site-a", "", err)
			if !strings.Contains(we.Error(), tt.says) {
				t.Errorf("error %q does not say %q", we, tt.says)
			}
			if we.Kind != tt.kind {
				t.Errorf("error kind %v, want %v", we.Kind, tt.kind)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("the cause %v is not reachable from %v", tt.cause, err)
			}
		})
	}
}

func TestCheckWritable(t *testing.T) {
	tr, dir := openTree(t)
	if err := tr.CheckWritable(); err != nil {
		t.Fatal(err)
	}
	if left := temps(t, dir); len(left) != 0 {
		t.Errorf("CheckWritable left %v", left)
	}
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere: the refusal cannot be tested")
	}
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	err := tr.CheckWritable()
	we := wire.ToError("attach", "site-a", "", err)
	if err == nil || !errors.Is(err, fs.ErrPermission) || we.Kind != wire.KindPermission || !strings.Contains(we.Msg, "not writable") {
		t.Errorf("read-only root: %v", err)
	}
}

func TestPathsCannotEscape(t *testing.T) {
	tr, dir := openTree(t)
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), "secret")
	os.Chmod(filepath.Join(outside, "secret"), 0o600)
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "secretlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(outside), filepath.Join(dir, "rel")); err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{"../x", "/etc/passwd", "a/../../x", "a/./b", "", ".", "a//b", `a\b`} {
		if _, err := tr.Lstat(p); !isKind(err, wire.KindInvalid) {
			t.Errorf("Lstat(%q): %v, want KindInvalid", p, err)
		}
		if _, err := tr.Create(p); !isKind(err, wire.KindInvalid) {
			t.Errorf("Create(%q): %v, want KindInvalid", p, err)
		}
		if err := tr.Remove(p); !isKind(err, wire.KindInvalid) {
			t.Errorf("Remove(%q): %v, want KindInvalid", p, err)
		}
	}
	if f, err := tr.OpenRead("secretlink"); err == nil {
		f.Close()
		t.Error("OpenRead followed a symlink to a file outside the root")
	}
	for _, p := range []string{"out/secret", "rel/secret"} {
		if f, err := tr.OpenRead(p); err == nil {
			f.Close()
			t.Errorf("OpenRead(%q) read through a symlink outside the root", p)
		}
		if _, err := tr.Lstat(p); err == nil {
			t.Errorf("Lstat(%q) looked through a symlink outside the root", p)
		}
		if _, err := tr.Create(p + "2"); err == nil {
			t.Errorf("Create(%q) wrote through a symlink outside the root", p+"2")
		}
		if err := tr.Mkdir(p+"dir", 0o755); err == nil {
			t.Errorf("Mkdir(%q) made a folder outside the root", p+"dir")
		}
		if err := tr.Rename(p, "stolen"); err == nil {
			t.Errorf("Rename(%q) moved a file from outside the root", p)
		}
		if err := tr.SetMeta(p, 0, 0o777); err == nil {
			t.Errorf("SetMeta(%q) changed a file outside the root", p)
		}
	}
	if err := tr.SetMeta("secretlink", 0, 0o777); err == nil {
		t.Error("SetMeta followed a symlink to a file outside the root")
	}
	if _, err := tr.OpenDir("out"); err == nil {
		t.Error("OpenDir followed a symlink outside the root")
	}
	if err := tr.Remove("out"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(outside, "secret"))
	if err != nil || fi.Mode().Perm() != 0o600 || readFile(t, filepath.Join(outside, "secret")) != "secret" {
		t.Errorf("the file outside the root was touched: %v %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("something was created outside the root: %v", ents)
	}
}

func TestCommitPreservesContentTimeAndMode(t *testing.T) {
	tr, dir := openTree(t)
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC).UnixNano()
	tests := []struct {
		name, path, content string
		mode                uint32
	}{
		{"a small file", "a.txt", "hello", 0o644},
		{"an empty file", "empty", "", 0o600},
		{"a read-only file", "ro.txt", "ro", 0o444},
		{"a name with spaces", "My Documents/plan for 2024.txt", "plan", 0o640},
		{"non-ASCII names", "Übersicht/résumé 日本.odt", "ü", 0o664},
		{"a deep new folder", "a/b/c/d/e.bin", strings.Repeat("x", 100000), 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := entryFor(tt.path, tt.content, mtime, tt.mode)
			if err := put(t, tr, want, tt.content, nil); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(dir, tt.path)); got != tt.content {
				t.Errorf("content %q, want %q", got, tt.content)
			}
			info, err := tr.Lstat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Entry(tt.path); got != (wire.Entry{Path: tt.path, Kind: wire.KindFile, Size: want.Size, Mtime: mtime, Mode: tt.mode}) {
				t.Errorf("committed %+v, want size %d mtime %d mode %o", got, want.Size, mtime, tt.mode)
			}
		})
	}
	if left := temps(t, dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestCommitReplacesOnlyWhatItWasToldOf(t *testing.T) {
	tr, dir := openTree(t)
	dst := filepath.Join(dir, "doc.txt")
	writeFile(t, dst, "old")
	old, err := tr.Lstat("doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	have := old.Entry("doc.txt")
	newer := entryFor("doc.txt", "new content", 1e18, 0o644)

	stale := have
	stale.Mtime++
	tests := []struct {
		name    string
		want    wire.Entry
		content string
		have    *wire.Entry
	}{
		{"wrong hash", newer, "NEW content", &have},
		{"short content", newer, "new", &have},
		{"must not exist but does", newer, "new content", nil},
		{"have is stale", newer, "new content", &stale},
		{"have says folder", newer, "new content", &wire.Entry{Path: "doc.txt", Kind: wire.KindDir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := put(t, tr, tt.want, tt.content, tt.have)
			if !isKind(err, wire.KindChanged) {
				t.Fatalf("Commit: %v, want KindChanged", err)
			}
			if got := readFile(t, dst); got != "old" {
				t.Errorf("destination now %q", got)
			}
			if left := temps(t, dir); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
	if err := put(t, tr, newer, "new content", &have); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, dst); got != "new content" {
		t.Errorf("destination %q after a good commit", got)
	}
}

func TestCommitRefusesWhatAppearedMeanwhile(t *testing.T) {
	tr, dir := openTree(t)
	p, err := tr.Create("new.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, "ours")
	writeFile(t, filepath.Join(dir, "new.txt"), "a user's")
	if err := p.Commit(entryFor("new.txt", "ours", 1, 0o644), nil); !isKind(err, wire.KindChanged) {
		t.Fatalf("Commit: %v, want KindChanged", err)
	}
	if got := readFile(t, filepath.Join(dir, "new.txt")); got != "a user's" {
		t.Errorf("the user's file was replaced: %q", got)
	}
}

func TestCrashLeavesOldContentAndATemp(t *testing.T) {
	tr, dir := openTree(t)
	dst := filepath.Join(dir, "sub", "f.txt")
	writeFile(t, dst, "old")
	p, err := tr.Create("sub/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, "half of the new")
	// The agent dies here: neither Commit nor Abort runs.
	if got := readFile(t, dst); got != "old" {
		t.Errorf("destination %q during the write", got)
	}
	left := temps(t, dir)
	if len(left) != 1 || filepath.Dir(left[0]) != filepath.Dir(dst) || !IsTemp(filepath.Base(left[0])) {
		t.Fatalf("want one temp beside the destination, got %v", left)
	}
	if fi, _ := os.Stat(left[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("temp mode %v, want 0600 so nobody reads it half-written", fi.Mode())
	}
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if left := temps(t, dir); len(left) != 0 {
		t.Errorf("Abort left %v", left)
	}
	if err := p.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
}

func TestCreateRefusesTempNames(t *testing.T) {
	tr, _ := openTree(t)
	if _, err := tr.Create("a/" + TempPrefix + "x"); !isKind(err, wire.KindInvalid) {
		t.Errorf("Create of a temp name: %v", err)
	}
}

// TestDeferredSync runs with an fsync per staged file (a small batch) and
// with one syncfs for the batch.
func TestDeferredSync(t *testing.T) { bothSyncWays(t, testDeferredSync) }

// bothSyncWays runs test with Sync making its files durable with an fsync
// each, then with one syncfs.
func bothSyncWays(t *testing.T, test func(t *testing.T)) {
	for _, tt := range []struct {
		name string
		each int
	}{{"an fsync each", fsyncEachMax}, {"one syncfs", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			defer func(was int) { fsyncEachMax = was }(fsyncEachMax)
			fsyncEachMax = tt.each
			test(t)
		})
	}
}

func testDeferredSync(t *testing.T) {
	tr, dir := openTree(t)
	writeFile(t, filepath.Join(dir, "b/taken"), "a user's")
	writeFile(t, filepath.Join(dir, "b/old"), "old")
	oldInfo, err := tr.Lstat("b/old")
	if err != nil {
		t.Fatal(err)
	}
	have := oldInfo.Entry("b/old")
	for _, name := range []string{"a/1", "a/2", "b/1", "top", "b/taken", "b/old"} {
		p, err := tr.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		p.DeferSync()
		io.WriteString(p, name)
		var h *wire.Entry
		if name == "b/old" {
			h = &have
		}
		if err := p.Commit(entryFor(name, name, 7, 0o640), h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a/1")); !os.IsNotExist(err) {
		t.Errorf("a staged file is in place before Sync: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "b/old")); got != "old" {
		t.Errorf("a staged replacement is in place before Sync: %q", got)
	}
	failed, err := tr.Sync()
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Path != "b/taken" || failed[0].Kind != wire.KindChanged {
		t.Errorf("failed %v, want b/taken as changed since the scan", failed)
	}
	for _, name := range []string{"a/1", "a/2", "b/1", "top", "b/old"} {
		if got := readFile(t, filepath.Join(dir, name)); got != name {
			t.Errorf("%s holds %q after Sync", name, got)
		}
		if info, _ := tr.Lstat(name); info.Mtime != 7 || info.Mode != 0o640 {
			t.Errorf("%s: mtime %d mode %o", name, info.Mtime, info.Mode)
		}
	}
	if got := readFile(t, filepath.Join(dir, "b/taken")); got != "a user's" {
		t.Errorf("the user's file was replaced: %q", got)
	}
	if left := temps(t, dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	if n := len(tr.dirty) + len(tr.staged); n != 0 {
		t.Errorf("%d changes still waiting after Sync", n)
	}
	if failed, err := tr.Sync(); len(failed) != 0 || err != nil {
		t.Errorf("an empty Sync: %v %v", failed, err)
	}
}

func TestMkdirSetMetaRemoveRename(t *testing.T) {
	tr, dir := openTree(t)
	if err := tr.Mkdir("x/y/z", 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "x/y/z")); err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
		t.Fatalf("x/y/z: %v %v", fi, err)
	}
	if err := tr.Mkdir("x/y/z", 0o2775&0o777); err != nil {
		t.Fatalf("Mkdir of an existing folder: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "x/y/z")); fi.Mode().Perm() != 0o775 {
		t.Errorf("mode %v after Mkdir 0775 (the umask must not apply)", fi.Mode().Perm())
	}
	writeFile(t, filepath.Join(dir, "x/f"), "f")
	if err := tr.Mkdir("x/f", 0o755); err == nil {
		t.Error("Mkdir over a file succeeded")
	}
	mt := int64(1_600_000_000_987_654_321)
	if err := tr.SetMeta("x/f", mt, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tr.SetMeta("x/y", mt, 0o711); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"x/f", "x/y"} {
		info, err := tr.Lstat(p)
		if err != nil || info.Mtime != mt {
			t.Errorf("%s: mtime %d, want %d (%v)", p, info.Mtime, mt, err)
		}
	}
	if err := tr.SetMeta("x/missing", mt, 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SetMeta of a missing path: %v", err)
	}
	if err := tr.SetMeta("x/f", mt, 0o10000); !isKind(err, wire.KindInvalid) {
		t.Errorf("SetMeta with a sticky bit: %v", err)
	}

	if err := tr.Rename("x/f", "new/place/f"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "new/place/f")); got != "f" {
		t.Errorf("renamed file holds %q", got)
	}
	writeFile(t, filepath.Join(dir, "other"), "o")
	if err := tr.Rename("other", "new/place/f"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Rename over an existing file: %v, want ErrExist", err)
	}
	if k := wire.ToError("rename", "h", "new/place/f", tr.Rename("other", "new/place/f")).Kind; k != wire.KindExists {
		t.Errorf("rename over a file maps to kind %v", k)
	}
	if err := tr.Remove("x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("x still there: %v", err)
	}
	if err := tr.Remove("x"); err != nil {
		t.Errorf("Remove of a missing path: %v", err)
	}
}

func TestConcurrentCommitsInOneFolder(t *testing.T) {
	tr, dir := openTree(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			name := fmt.Sprintf("shared/f%02d", i)
			content := strings.Repeat(name, i)
			errs <- put(t, tr, entryFor(name, content, int64(i), 0o644), content, nil)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if left := temps(t, dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestLinkAndRemoveFile(t *testing.T) {
	tr, dir := openTree(t)
	writeFile(t, filepath.Join(dir, "a"), "content")
	if err := tr.Link("a", "sub/b"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "sub/b")); got != "content" {
		t.Errorf("the link holds %q", got)
	}
	if err := tr.Link("a", "sub/b"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Link over an existing file: %v, want ErrExist", err)
	}
	if err := tr.RemoveFile("sub/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub/b")); !os.IsNotExist(err) {
		t.Errorf("sub/b still there: %v", err)
	}
	for _, p := range []string{"sub/b", "missing/x"} {
		if err := tr.RemoveFile(p); err != nil {
			t.Errorf("RemoveFile of a missing %s: %v", p, err)
		}
	}
	if err := tr.RemoveFile("sub"); err == nil {
		t.Error("RemoveFile removed a folder")
	}
	if err := os.Symlink("a", filepath.Join(dir, "link")); err == nil {
		if err := tr.RemoveFile("link"); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(dir, "a")); got != "content" {
			t.Errorf("the symlink's target now holds %q", got)
		}
	}
}

// A staged file whose wanted mode lets its owner write but not read cannot
// be reopened for its fsync by an agent that is not root: it is made durable
// with the syncfs instead.
func TestSyncOfAFileTheAgentCannotRead(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file: the fallback cannot be tested")
	}
	tr, dir := openTree(t)
	p, err := tr.Create("w")
	if err != nil {
		t.Fatal(err)
	}
	p.DeferSync()
	io.WriteString(p, "secret")
	if err := p.Commit(entryFor("w", "secret", 7, 0o200), nil); err != nil {
		t.Fatal(err)
	}
	if failed, err := tr.Sync(); len(failed) != 0 || err != nil {
		t.Fatalf("Sync: %v %v", failed, err)
	}
	if err := p.Staged().Err(); err != nil {
		t.Errorf("staged outcome: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "w")); err != nil || fi.Mode().Perm() != 0o200 {
		t.Errorf("w: %v %v", fi, err)
	}
}
