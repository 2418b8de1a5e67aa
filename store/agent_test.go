package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func newAgent(t testing.TB) (*Agent, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.db")
	a, err := OpenAgent(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, path
}

func cached(i int) Cached {
	return Cached{Size: int64(i), Mtime: 1_700_000_000_000_000_000 + int64(i), Ctime: int64(i) * 3, Ino: uint64(i) + 100,
		Hash: sha256.Sum256([]byte(fmt.Sprint(i)))}
}

func lookup(t testing.TB, a *Agent, session, path string) (Cached, bool) {
	t.Helper()
	r, err := a.BeginScan(session)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Lookup(path)
}

func TestCacheRoundTripAndPersistence(t *testing.T) {
	a, path := newAgent(t)
	changed := []CachedPath{
		{"a/b.txt", cached(1)},
		{"名前/ファイル.txt", cached(2)},
		{"empty", Cached{}},
		{"big", Cached{Size: 1 << 50, Ino: 1 << 63}},
	}
	must(t, a.UpdateCache("s", changed, nil))
	must(t, a.Close())
	a, err := OpenAgent(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, c := range changed {
		if got, ok := lookup(t, a, "s", c.Path); !ok || got != c.Cached {
			t.Errorf("%s: %+v, %v; want %+v", c.Path, got, ok, c.Cached)
		}
	}
	if _, ok := lookup(t, a, "other", "a/b.txt"); ok {
		t.Error("a path of session s found in session other")
	}
	must(t, a.UpdateCache("s", []CachedPath{{"empty", cached(9)}}, []string{"a/b.txt", "absent"}))
	if _, ok := lookup(t, a, "s", "a/b.txt"); ok {
		t.Error("removed path still cached")
	}
	if got, _ := lookup(t, a, "s", "empty"); got != cached(9) {
		t.Errorf("rewritten entry: %+v", got)
	}
	if err := a.UpdateCache("s", []CachedPath{{"../x", Cached{}}}, nil); err == nil {
		t.Error("an unclean path was cached")
	}
	if err := a.UpdateCache("s", []CachedPath{{"neg", Cached{Size: -1}}}, nil); err == nil {
		t.Error("a negative size was cached")
	}
}

func TestCacheReaderSeesWritesAfterThem(t *testing.T) {
	a, _ := newAgent(t)
	r, err := a.BeginScan("s") // before the session's bucket exists
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup("f"); ok {
		t.Fatal("hit in an empty cache")
	}
	// The same goroutine writes while holding the reader, enough to grow
	// the file: this must not deadlock on bbolt's remap.
	var batch []CachedPath
	for i := range 20_000 {
		batch = append(batch, CachedPath{benchPath(i), cached(i)})
	}
	done := make(chan error, 1)
	go func() { done <- a.UpdateCache("s", batch, nil) }()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		// Not t.Fatal: cleanup would wait on the deadlocked writer.
		panic("UpdateCache deadlocked with an open CacheReader")
	}
	must(t, a.UpdateCache("s", []CachedPath{{"f", cached(5)}}, nil))
	if got, ok := r.Lookup("f"); !ok || got != cached(5) {
		t.Errorf("after the write: %+v, %v", got, ok)
	}
	must(t, r.Close())
}

func TestCorruptCacheEntryIsAMiss(t *testing.T) {
	a, _ := newAgent(t)
	must(t, a.UpdateCache("s", []CachedPath{{"f", cached(1)}}, nil))
	must(t, a.update(func(tx *bolt.Tx) error {
		return subBucket(tx, bucketCache, "s").Put([]byte("f"), []byte{9, 9, 9})
	}, nil))
	if _, ok := lookup(t, a, "s", "f"); ok {
		t.Error("a corrupt entry was served")
	}
}

func cacheKeys(t testing.TB, a *Agent, session string) []string {
	var keys []string
	must(t, a.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketCache, session)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
	}))
	return keys
}

// Unseen lists what Prune would delete, in order and across several read
// transactions, deletes nothing, and lets its callback write to the store.
func TestUnseenListsWhatPruneWouldDrop(t *testing.T) {
	a, _ := newAgent(t)
	var all []CachedPath
	for i := range 2*pruneChunk + 3 {
		all = append(all, CachedPath{benchPath(i), cached(i)})
	}
	must(t, a.UpdateCache("s", all, nil))
	r, err := a.BeginScan("s")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var want []string
	for i, c := range all {
		if i%2 == 0 {
			r.Lookup(c.Path)
		} else {
			want = append(want, c.Path)
		}
	}
	slices.Sort(want)
	var got []string
	err = r.Unseen(func(p string) error {
		got = append(got, p)
		return a.UpdateCache("t", []CachedPath{{p, cached(0)}}, nil) // a write from the callback
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Unseen listed %d paths, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
	}
	if n := len(cacheKeys(t, a, "s")); n != len(all) {
		t.Errorf("%d records left, want all %d", n, len(all))
	}
	stop := errors.New("stop")
	calls := 0
	if err := r.Unseen(func(string) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Unseen with a failing callback: %v after %d calls", err, calls)
	}
}

func TestPruneDropsWhatTheScanDidNotSee(t *testing.T) {
	a, _ := newAgent(t)
	var all []CachedPath
	for i := range 3*pruneChunk + 7 { // several pruning transactions
		all = append(all, CachedPath{benchPath(i), cached(i)})
	}
	must(t, a.UpdateCache("s", all, nil))
	must(t, a.UpdateCache("t", all[:5], nil))

	r, err := a.BeginScan("s")
	if err != nil {
		t.Fatal(err)
	}
	// The scan sees every third file, finds a new one (a miss, then
	// written), and a transfer writes another meanwhile.
	want := map[string]bool{}
	for i := 0; i < len(all); i += 3 {
		if _, ok := r.Lookup(all[i].Path); !ok {
			t.Fatalf("%s: miss", all[i].Path)
		}
		want[all[i].Path] = true
	}
	if _, ok := r.Lookup("new"); ok {
		t.Fatal("hit for a new file")
	}
	must(t, a.UpdateCache("s", []CachedPath{{"new", cached(1)}, {"written", cached(2)}}, nil))
	want["new"], want["written"] = true, true
	n, err := r.Prune()
	if err != nil {
		t.Fatal(err)
	}
	must(t, r.Close())
	keys := cacheKeys(t, a, "s")
	if n != len(all)+2-len(want) || len(keys) != len(want) {
		t.Fatalf("pruned %d, kept %d; want %d kept", n, len(keys), len(want))
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("kept %s", k)
		}
	}
	if len(cacheKeys(t, a, "t")) != 5 {
		t.Error("pruning s touched t")
	}
	if _, err := r.Prune(); err == nil {
		t.Error("prune after close")
	}
	// PruneCache with any rule.
	n, err = a.PruneCache("t", func(p string) bool { return p != all[0].Path })
	if err != nil || n != 1 {
		t.Errorf("PruneCache: %d, %v", n, err)
	}
	if n, err := a.PruneCache("none", func(string) bool { return false }); n != 0 || err != nil {
		t.Errorf("prune of an empty session: %d, %v", n, err)
	}
}

func TestConcurrentScanAndWrites(t *testing.T) {
	a, _ := newAgent(t)
	r, err := a.BeginScan("s")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				p := benchPath(w*10000 + i)
				if _, ok := r.Lookup(p); !ok && i%50 == 0 {
					if err := a.UpdateCache("s", []CachedPath{{p, cached(i)}}, nil); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			if err := a.PutLocks(LockRecord{Session: "s", Path: fmt.Sprint("l", i), Ino: uint64(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if got := len(cacheKeys(t, a, "s")); got != 4*40 {
		t.Errorf("%d entries, want %d", got, 4*40)
	}
}

func TestLockJournal(t *testing.T) {
	a, path := newAgent(t)
	since := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	r1 := LockRecord{Session: "s", Path: "docs/é.odt", Dev: 2049, Ino: 77, Gen: 123456, Mode: 0o100644, Flags: 0x80000,
		Holder: "site-a", Since: since, LockFile: "docs/.~lock.é.odt#"}
	r2 := LockRecord{Session: "t", Path: "x", Ino: 1}
	must(t, a.PutLocks(r1, r2))
	if err := a.PutLocks(LockRecord{Session: "s", Path: "/abs"}); err == nil {
		t.Error("a lock on an absolute path was journaled")
	}
	must(t, a.Close())
	a, err := OpenAgent(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	all, err := a.Locks("")
	if err != nil || len(all) != 2 {
		t.Fatalf("all locks: %+v, %v", all, err)
	}
	got := all[0]
	if !got.Since.Equal(since) {
		t.Errorf("since %v, want %v", got.Since, since)
	}
	got.Since = since
	if got != r1 {
		t.Errorf("lock after reopen: %+v, want %+v", got, r1)
	}
	if ls, _ := a.Locks("t"); len(ls) != 1 || ls[0].Path != "x" {
		t.Errorf("locks of t: %+v", ls)
	}
	if l, err := a.Lock("s", "docs/é.odt"); err != nil || l.Gen != 123456 {
		t.Errorf("lock: %+v, %v", l, err)
	}
	must(t, a.DeleteLocks("s", "docs/é.odt", "absent"))
	if _, err := a.Lock("s", "docs/é.odt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted lock: %v", err)
	}
}

func TestAgentDeleteSession(t *testing.T) {
	a, _ := newAgent(t)
	must(t, a.UpdateCache("s", []CachedPath{{"f", cached(1)}}, nil))
	must(t, a.UpdateCache("t", []CachedPath{{"f", cached(1)}}, nil))
	must(t, a.PutLocks(LockRecord{Session: "s", Path: "f"}, LockRecord{Session: "t", Path: "f"}))
	r, err := a.BeginScan("s")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	must(t, a.DeleteSession("s"))
	if _, ok := r.Lookup("f"); ok {
		t.Error("an open reader still sees a deleted session")
	}
	if ls, _ := a.Locks(""); len(ls) != 1 || ls[0].Session != "t" {
		t.Errorf("locks after delete: %+v", ls)
	}
	if _, ok := lookup(t, a, "t", "f"); !ok {
		t.Error("deleting s dropped t's cache")
	}
}

func TestAgentCloseEndsReaders(t *testing.T) {
	a, _ := newAgent(t)
	r, err := a.BeginScan("s")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Close() }()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked by an open reader")
	}
	if _, ok := r.Lookup("f"); ok {
		t.Error("lookup after close")
	}
	must(t, r.Close())
	if err := a.UpdateCache("s", nil, nil); err == nil {
		t.Error("write after close")
	}
}

// Lock orphans are journaled apart from the locks: one at a path does not
// replace or hide a lock of the same path, and a session's deletion drops
// them with its locks.
func TestAgentLockOrphans(t *testing.T) {
	a, _ := newAgent(t)
	at := time.Unix(1_700_000_000, 0).UTC()
	must(t, a.PutLocks(LockRecord{Session: "s", Path: "f", Ino: 1}))
	must(t, a.PutOrphans(LockRecord{Session: "s", Path: "f", Ino: 2, Orphaned: at}, LockRecord{Session: "t", Path: "g", Ino: 3, Orphaned: at}))
	if ls, err := a.Locks("s"); err != nil || len(ls) != 1 || ls[0].Ino != 1 || !ls[0].Orphaned.IsZero() {
		t.Errorf("locks beside an orphan of the same path: %+v, %v", ls, err)
	}
	orphans, err := a.Orphans("s")
	if err != nil || len(orphans) != 1 || orphans[0].Ino != 2 || !orphans[0].Orphaned.Equal(at) {
		t.Errorf("orphans of s: %+v, %v", orphans, err)
	}
	if err := a.PutOrphans(LockRecord{Session: "s", Path: "../x"}); err == nil {
		t.Error("an orphan outside the root was journaled")
	}
	must(t, a.DeleteOrphans("s", "f", "absent"))
	if all, _ := a.Orphans(""); len(all) != 1 || all[0].Session != "t" {
		t.Errorf("orphans after the deletion: %+v", all)
	}
	if ls, _ := a.Locks("s"); len(ls) != 1 {
		t.Errorf("deleting an orphan dropped the lock of its path: %+v", ls)
	}
	must(t, a.DeleteSession("t"))
	if all, _ := a.Orphans(""); len(all) != 0 {
		t.Errorf("orphans after deleting the session: %+v", all)
	}
}
