//go:build linux

package lock

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/sync/tree"
)

// A lock journals the root it was taken on, and a Locker of the same
// session on another root (the session's root changed while a lock was
// left) neither takes that lock for its own nor undoes it: only a Locker
// on the lock's root does, on the very file locked.
func TestLockerKeepsToItsRoot(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.write("doc.txt", "v1", 0o640)
	if err := e.l.Lock("doc.txt", alice); err != nil {
		t.Fatal(err)
	}
	locked := stateOf(t, p)
	if recs := e.journal(); len(recs) != 1 || recs[0].Root != e.dir {
		t.Fatalf("journal %+v, want one record with root %s", recs, e.dir)
	}

	otherDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(otherDir, "doc.txt"), []byte("v1"), 0o640); err != nil {
		t.Fatal(err)
	}
	other, err := tree.Open(otherDir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lo, err := New(other, e.db, session, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if lo.Locked("doc.txt") || len(lo.Held()) != 0 {
		t.Errorf("a Locker on %s holds %v, which was locked on %s", otherDir, lo.Held(), e.dir)
	}
	if err := lo.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s != locked {
		t.Errorf("a Reconcile on another root changed the locked file: %+v, want %+v", s, locked)
	}
	if recs := e.journal(); len(recs) != 1 {
		t.Errorf("a Reconcile on another root dropped the record: journal %+v", recs)
	}

	e.restart()
	if !slices.Equal(e.l.Held(), []string{"doc.txt"}) {
		t.Fatalf("the Locker on the lock's root holds %v, want doc.txt", e.l.Held())
	}
	if err := e.l.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, p); s.mode != 0o640 || s.flags&flagImmutable != 0 {
		t.Errorf("after Reconcile on its root: %+v, want mode 640 and no immutable flag", s)
	}
	if recs := e.journal(); len(recs) != 0 {
		t.Errorf("journal after Reconcile on its root: %+v, want empty", recs)
	}
}

// A record journaled before roots were (Root empty) is the Locker's, as it
// was then; locking it again journals the root.
func TestLockerTakesRecordWithoutRoot(t *testing.T) {
	e := newEnv(t, Options{})
	e.write("old.txt", "v1", 0o644)
	if err := e.l.Lock("old.txt", alice); err != nil {
		t.Fatal(err)
	}
	rec := e.journal()[0]
	rec.Root = ""
	if err := e.db.PutLocks(rec); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if !e.l.Locked("old.txt") {
		t.Fatal("a record without its root is not taken for the Locker's")
	}
	if err := e.l.Lock("old.txt", alice); err != nil {
		t.Fatal(err)
	}
	if recs := e.journal(); len(recs) != 1 || recs[0].Root != e.dir {
		t.Errorf("journal after locking again: %+v, want the root %s recorded", recs, e.dir)
	}
}
