package scan

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

func TestMain(m *testing.M) {
	// Test trees are scanned right after they are written; the guard
	// against same-tick changes would keep every file out of the cache.
	racyWindow = 0
	os.Exit(m.Run())
}

// mapCache is a Cache in memory that records how it was called.
type mapCache struct {
	mu      sync.Mutex
	m       map[string]Cached
	spans   map[string][]delta.Block
	seen    []string
	updates int
}

func newMapCache() *mapCache {
	return &mapCache{m: map[string]Cached{}, spans: map[string][]delta.Block{}}
}

func (c *mapCache) Lookup(p string) (Cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[p]
	return v, ok
}

func (c *mapCache) Update(changed []CachedPath) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cp := range changed {
		c.m[cp.Path] = cp.Cached
		if cp.Spans != nil {
			c.spans[cp.Path] = cp.Spans
		}
	}
	c.updates += len(changed)
	return nil
}

func (c *mapCache) Seen(paths []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, paths...)
	return nil
}

type result struct {
	entries  []wire.Entry
	batches  int
	stats    wire.ScanStats
	warnings []wire.Error
}

func scan(t testing.TB, tr *tree.Tree, opts Options) result {
	t.Helper()
	var r result
	stats, warnings, err := Run(context.Background(), tr, opts, func(b []wire.Entry) error {
		r.entries = append(r.entries, b...)
		r.batches++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.stats, r.warnings = stats, warnings
	return r
}

func write(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func openTree(t testing.TB, dir string) *tree.Tree {
	t.Helper()
	tr, err := tree.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// expect builds the entry the scan must report for rel from the file system.
func expect(t *testing.T, root, rel string) wire.Entry {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	e := wire.Entry{Path: rel, Kind: wire.KindDir, Mtime: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode().Perm())}
	if fi.Mode().IsRegular() {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		e.Kind, e.Size, e.Hash = wire.KindFile, fi.Size(), sha256.Sum256(b)
	}
	return e
}

// key is the walk order's sort key: a folder compares as path+"/".
func key(e wire.Entry) string {
	if e.Kind == wire.KindDir {
		return e.Path + "/"
	}
	return e.Path
}

func TestScanReportsEveryFileAndFolder(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"a.txt":                        "alpha",
		"empty":                        "",
		"docs/plan 2024.txt":           "plan",
		"docs/Übersicht/résumé 日本.odt": "ü",
		"a/b/c/d/deep.bin":             strings.Repeat("x", 3<<20), // several read buffers
		"a-b":                          "sorts between a and a/",
		"a.b/x":                        "x",
	}
	for rel, c := range files {
		write(t, root, rel, c)
	}
	os.Mkdir(filepath.Join(root, "empty folder"), 0o700)
	os.MkdirAll(filepath.Join(root, "nested/empty/folders"), 0o755)
	os.Chmod(filepath.Join(root, "a.txt"), 0o600)
	os.Chtimes(filepath.Join(root, "a.txt"), time.Now(), time.Unix(1_500_000_000, 123456789))

	r := scan(t, openTree(t, root), Options{Workers: 3, Batch: 4})
	var want []wire.Entry
	filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(root, p); rel != "." {
			want = append(want, expect(t, root, filepath.ToSlash(rel)))
		}
		return err
	})
	slices.SortFunc(want, func(a, b wire.Entry) int { return strings.Compare(key(a), key(b)) })
	if !slices.Equal(r.entries, want) {
		t.Errorf("entries differ\n got %v\nwant %v", r.entries, want)
	}
	if !slices.IsSortedFunc(r.entries, func(a, b wire.Entry) int { return strings.Compare(key(a), key(b)) }) {
		t.Error("entries are not in walk order")
	}
	if r.stats.Files != int64(len(files)) || r.stats.Dirs != int64(len(want)-len(files)) || r.stats.Hashed != int64(len(files)) || r.stats.Skipped != 0 {
		t.Errorf("stats %+v", r.stats)
	}
	if r.batches != (len(want)+3)/4 {
		t.Errorf("%d batches for %d entries of at most 4", r.batches, len(want))
	}
	for _, e := range r.entries {
		if err := e.Validate(); err != nil {
			t.Errorf("invalid entry: %v", err)
		}
	}
}

func TestSecondScanHashesNothing(t *testing.T) {
	root := t.TempDir()
	for i, rel := range []string{"1", "d/2", "d/e/3", "zero"} {
		write(t, root, rel, strings.Repeat("z", i))
	}
	tr := openTree(t, root)
	cache := newMapCache()
	first := scan(t, tr, Options{Cache: cache})
	if first.stats.Hashed != 4 || cache.updates != 4 {
		t.Fatalf("first scan hashed %d and cached %d, want 4", first.stats.Hashed, cache.updates)
	}
	second := scan(t, tr, Options{Cache: cache})
	if second.stats.Hashed != 0 || cache.updates != 4 {
		t.Errorf("second scan of an unchanged tree hashed %d files and cached %d more", second.stats.Hashed, cache.updates-4)
	}
	if !slices.Equal(first.entries, second.entries) {
		t.Errorf("entries differ between scans:\n%v\n%v", first.entries, second.entries)
	}
	want := []string{"1", "d/2", "d/e/3", "zero", "1", "d/2", "d/e/3", "zero"}
	if !slices.Equal(cache.seen, want) {
		t.Errorf("Seen %v, want every file of each scan in order %v", cache.seen, want)
	}
}

func TestChangedFilesAreRehashed(t *testing.T) {
	root := t.TempDir()
	write(t, root, "same-size.txt", "aaaa")
	write(t, root, "grown.txt", "a")
	write(t, root, "untouched.txt", "u")
	tr := openTree(t, root)
	cache := newMapCache()
	scan(t, tr, Options{Cache: cache})

	// Same size and the old mtime put back: only ctime tells.
	p := filepath.Join(root, "same-size.txt")
	fi, _ := os.Stat(p)
	os.WriteFile(p, []byte("bbbb"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	write(t, root, "grown.txt", "ab")

	r := scan(t, tr, Options{Cache: cache})
	if r.stats.Hashed != 2 {
		t.Errorf("hashed %d files, want the 2 changed ones", r.stats.Hashed)
	}
	for _, e := range r.entries {
		if e.Kind == wire.KindFile && e != expect(t, root, e.Path) {
			t.Errorf("%s reported as %+v", e.Path, e)
		}
	}
}

func TestExcludedPathsAreLeftOut(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"keep.txt", "build/out.o", "build/deep/x", "src/build/y", "x.bak", "src/~$plan.docx", "src/plan.docx", ".peerlink/q"} {
		write(t, root, rel, rel)
	}
	f, err := filter.New(append(slices.Clone(filter.Default), "/build", "*.bak"))
	if err != nil {
		t.Fatal(err)
	}
	r := scan(t, openTree(t, root), Options{Filter: f})
	var got []string
	for _, e := range r.entries {
		got = append(got, e.Path)
	}
	want := []string{"keep.txt", "src", "src/build", "src/build/y", "src/plan.docx"}
	if !slices.Equal(got, want) {
		t.Errorf("reported %v, want %v", got, want)
	}
	if r.stats.Skipped != 0 || len(r.warnings) != 0 {
		t.Errorf("exclusions produced warnings: %v", r.warnings)
	}
}

func TestSymlinksAndSpecialFilesAreSkippedWithAWarning(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write(t, outside, "secret", "s")
	write(t, root, "f", "f")
	os.Symlink(outside, filepath.Join(root, "out"))
	os.Symlink("f", filepath.Join(root, "flink"))
	if err := mkfifo(filepath.Join(root, "pipe")); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no named pipes on this system")
	} else if err != nil {
		t.Fatal(err)
	}
	r := scan(t, openTree(t, root), Options{})
	if len(r.entries) != 1 || r.entries[0].Path != "f" {
		t.Errorf("entries %v, want only f", r.entries)
	}
	if r.stats.Skipped != 3 || len(r.warnings) != 3 {
		t.Fatalf("skipped %d, warnings %v", r.stats.Skipped, r.warnings)
	}
	for _, w := range r.warnings {
		if w.Kind != wire.KindInvalid || !strings.Contains(w.Msg, "skipped") {
			t.Errorf("warning %v", &w)
		}
	}
	if !strings.Contains(r.warnings[1].Error(), "scan out: symbolic link skipped") {
		t.Errorf("warning %q does not say what was skipped", r.warnings[1].Error())
	}
}

func TestLeftoverTempFilesAreRemoved(t *testing.T) {
	root := t.TempDir()
	write(t, root, "docs/report.txt", "r")
	write(t, root, "docs/"+tree.TempPrefix+"0123", "half a file")
	write(t, root, tree.TempPrefix+"9", "another")
	r := scan(t, openTree(t, root), Options{})
	if len(r.entries) != 2 || r.stats.Skipped != 0 || r.stats.Files != 1 {
		t.Errorf("entries %v, stats %+v", r.entries, r.stats)
	}
	for _, rel := range []string{"docs/" + tree.TempPrefix + "0123", tree.TempPrefix + "9"} {
		if _, err := os.Lstat(filepath.Join(root, rel)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", rel, err)
		}
	}
}

// readsCache is a mapCache that implements Reads.
type readsCache struct {
	*mapCache
	reads []ReadFile
}

func (c *readsCache) Read(files []ReadFile) { c.reads = append(c.reads, files...) }

// A Cache that implements Reads is told of every file read, cacheable or
// not (changed a moment ago), and of no file the cache described.
func TestReadsTellsEveryFileRead(t *testing.T) {
	root := t.TempDir()
	write(t, root, "a", "a")
	write(t, root, "b", "b")
	write(t, root, "c", "c")
	tr := openTree(t, root)
	c := &readsCache{mapCache: newMapCache()}
	scan(t, tr, Options{Cache: c})
	if len(c.reads) != 3 || !c.reads[0].Cacheable {
		t.Fatalf("first scan: reads %v, want all three, cacheable", c.reads)
	}
	c.reads = nil
	write(t, root, "b", "bb")
	saved := racyWindow
	racyWindow = time.Hour // b is too new to be cached
	defer func() { racyWindow = saved }()
	scan(t, tr, Options{Cache: c})
	if len(c.reads) != 1 || c.reads[0].Path != "b" || c.reads[0].Cacheable || c.reads[0].Size != 2 || c.reads[0].Hash != sha256.Sum256([]byte("bb")) {
		t.Errorf("second scan: reads %+v, want b only, read but not cacheable", c.reads)
	}
}

// A rescan while transfers run (KeepTemp) neither reports nor removes a
// transfer's temp file.
func TestKeepTempLeavesTempFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, "docs/report.txt", "r")
	write(t, root, "docs/"+tree.TempPrefix+"0123", "half a file")
	r := scan(t, openTree(t, root), Options{KeepTemp: true})
	if len(r.entries) != 2 || r.stats.Skipped != 0 || r.stats.Files != 1 {
		t.Errorf("entries %v, stats %+v", r.entries, r.stats)
	}
	if _, err := os.Lstat(filepath.Join(root, "docs", tree.TempPrefix+"0123")); err != nil {
		t.Errorf("the temp file was touched: %v", err)
	}
}

func TestNamesThatAreNotWatchSetPaths(t *testing.T) {
	root := t.TempDir()
	write(t, root, `back\slash`, "b")
	write(t, root, "bad\xffutf8", "u")
	write(t, root, "ok", "o")
	r := scan(t, openTree(t, root), Options{})
	if len(r.entries) != 1 || r.stats.Skipped != 2 {
		t.Fatalf("entries %v, stats %+v", r.entries, r.stats)
	}
	for _, w := range r.warnings {
		if w.Kind != wire.KindInvalid || w.Path == "" || !strings.Contains(w.Msg, "rename it") {
			t.Errorf("warning %v", &w)
		}
	}
}

func TestUnreadableFilesAndFoldersAreWarnings(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads everything: permissions cannot make a file unreadable")
	}
	root := t.TempDir()
	write(t, root, "secret/f", "f")
	write(t, root, "locked.txt", "l")
	write(t, root, "ok.txt", "o")
	os.Chmod(filepath.Join(root, "locked.txt"), 0)
	os.Chmod(filepath.Join(root, "secret"), 0)
	defer os.Chmod(filepath.Join(root, "secret"), 0o755)
	r := scan(t, openTree(t, root), Options{})
	var got []string
	for _, e := range r.entries {
		got = append(got, e.Path)
	}
	if !slices.Equal(got, []string{"ok.txt", "secret"}) {
		t.Errorf("entries %v", got)
	}
	if len(r.warnings) != 2 || r.stats.Skipped != 2 {
		t.Fatalf("warnings %v", r.warnings)
	}
	for _, w := range r.warnings {
		if w.Kind != wire.KindPermission {
			t.Errorf("warning %v, want permission denied", &w)
		}
	}
}

func TestCancelStopsTheScan(t *testing.T) {
	root := t.TempDir()
	for i := range 50 {
		write(t, root, filepath.Join("d", string(rune('a'+i%26)), strings.Repeat("f", i+1)), "x")
	}
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	_, _, err := Run(ctx, openTree(t, root), Options{Batch: 1}, func([]wire.Entry) error {
		batches++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v", err)
	}
	if batches > 1 {
		t.Errorf("%d batches emitted after the cancel", batches-1)
	}
}

func TestEmitErrorFailsTheScan(t *testing.T) {
	root := t.TempDir()
	write(t, root, "a", "a")
	write(t, root, "b", "b")
	boom := errors.New("link down")
	_, _, err := Run(context.Background(), openTree(t, root), Options{Batch: 1}, func([]wire.Entry) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Run: %v, want the emit error", err)
	}
}

func TestBadBatchSize(t *testing.T) {
	root := t.TempDir()
	if _, _, err := Run(context.Background(), openTree(t, root), Options{Batch: wire.MaxBatch + 1}, nil); err == nil {
		t.Error("a batch above wire.MaxBatch was accepted")
	}
}

func TestDefaultFilterExcludesTreeTempNames(t *testing.T) {
	f, err := filter.New(filter.Default)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Excluded("a/"+tree.TempPrefix+"0123456789abcdef", false) {
		t.Error("filter.Default does not exclude sync/tree's temp files")
	}
}
