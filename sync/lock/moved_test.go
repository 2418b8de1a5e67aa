//go:build linux

package lock

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A folder renamed with a locked copy in it: the lock follows, in memory,
// in the journal and after a restart, and the unlock at the new path
// restores the copy exactly.
func TestLockFollowsItsFolderRenamed(t *testing.T) {
	e := newEnv(t, Options{})
	if err := os.MkdirAll(e.path("proj/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := e.write("proj/sub/plan.odt", "x", 0o644)
	other := e.write("other.odt", "y", 0o644)
	before := stateOf(t, p)
	for _, rel := range []string{"proj/sub/plan.odt", "other.odt"} {
		if err := e.l.Lock(rel, alice); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(e.path("proj"), e.path("renamed")); err != nil {
		t.Fatalf("a folder holding a locked copy could not be renamed: %v", err)
	}
	if err := e.l.Moved("proj", "renamed"); err != nil {
		t.Fatal(err)
	}
	if e.l.Locked("proj/sub/plan.odt") || !e.l.Locked("renamed/sub/plan.odt") || !e.l.Locked("other.odt") {
		t.Fatalf("held after the move: %v", e.l.Held())
	}
	var paths []string
	for _, r := range e.journal() {
		paths = append(paths, r.Path)
	}
	if len(paths) != 2 || !contains(paths, "renamed/sub/plan.odt") || !contains(paths, "other.odt") {
		t.Fatalf("journal after the move: %v", paths)
	}
	e.restart()
	if !e.l.Locked("renamed/sub/plan.odt") {
		t.Fatalf("after a restart: %v", e.l.Held())
	}
	if err := e.l.Unlock("renamed/sub/plan.odt"); err != nil {
		t.Fatal(err)
	}
	if after := stateOf(t, e.path("renamed/sub/plan.odt")); after != before {
		t.Errorf("after the unlock %+v, want %+v", after, before)
	}
	if s := stateOf(t, other); s.mode&0o222 != 0 {
		t.Errorf("the other copy's lock was undone too: mode %o", s.mode)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// An unlock that comes before the folder's rename is known: the copy is
// not at its path, and the rename's Moved, once it comes, restores it at
// the new one.
func TestUnlockBeforeItsFolderRenameIsKnown(t *testing.T) {
	e := newEnv(t, Options{})
	before := e.unlockBeforeRename("proj/plan.odt")
	if e.l.Locked("proj/plan.odt") || len(e.journal()) != 0 {
		t.Fatalf("still held after the unlock: %v, journal %v", e.l.Held(), e.journal())
	}
	if s := stateOf(t, e.path("renamed/plan.odt")); s.mode&0o222 != 0 {
		t.Fatalf("restored before its new path was known: mode %o", s.mode)
	}
	if err := e.l.Moved("proj", "renamed"); err != nil {
		t.Fatal(err)
	}
	if after := stateOf(t, e.path("renamed/plan.odt")); after != before {
		t.Errorf("after the rename was known %+v, want %+v", after, before)
	}
}

// A folder renamed with a locked copy in it while nobody watched (the
// agent detached): the next Reconcile finds the copy by its inode and
// undoes its lock where it is now (make chaos, seed 9052).
func TestReconcileFindsACopyMovedUnseen(t *testing.T) {
	e := newEnv(t, Options{})
	if err := os.MkdirAll(e.path("proj/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := e.write("proj/sub/plan.odt", "x", 0o644)
	before := stateOf(t, p)
	if err := e.l.Lock("proj/sub/plan.odt", alice); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(e.path("proj"), e.path("renamed")); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if err := e.l.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if after := stateOf(t, e.path("renamed/sub/plan.odt")); after != before {
		t.Errorf("after the Reconcile %+v, want %+v", after, before)
	}
	if len(e.journal()) != 0 || len(e.l.Held()) != 0 {
		t.Errorf("still journaled %v, held %v", e.journal(), e.l.Held())
	}
}

// orphans returns the lock orphans e's journal holds, by path.
func (e *env) orphans() []string {
	e.t.Helper()
	recs, err := e.db.Orphans(session)
	if err != nil {
		e.t.Fatal(err)
	}
	var paths []string
	for _, r := range recs {
		paths = append(paths, r.Path)
	}
	return paths
}

// An unlock that comes before its folder's rename is known, then a restart
// before the rename's Moved: the orphan is journaled, so the next
// Reconcile (at start-up) finds the copy by its inode and restores it
// where it is, instead of leaving it read-only and immutable for good.
func TestOrphanSurvivesARestart(t *testing.T) {
	e := newEnv(t, Options{})
	before := e.unlockBeforeRename("proj/sub/plan.odt")
	if len(e.journal()) != 0 {
		t.Fatalf("after the unlock: locks %v, want none", e.journal())
	}
	if got := e.orphans(); !slices.Equal(got, []string{"proj/sub/plan.odt"}) {
		t.Errorf("after the unlock: orphans %v, want it journaled", got)
	}
	e.restart()
	if s := stateOf(t, e.path("renamed/sub/plan.odt")); s == before {
		t.Fatalf("restored before the Reconcile: %+v", s)
	}
	if err := e.l.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if after := stateOf(t, e.path("renamed/sub/plan.odt")); after != before {
		t.Errorf("after the restart's Reconcile %+v, want %+v", after, before)
	}
	if len(e.orphans()) != 0 || len(e.journal()) != 0 {
		t.Errorf("journal after the Reconcile: orphans %v, locks %v", e.orphans(), e.journal())
	}
}

// A new lock at an orphan's path (the file fetched again where its
// folder used to be) is journaled beside the orphan, not over it: after a
// restart the orphan's copy is restored and the new lock kept.
func TestOrphanBesideANewLockOfItsPath(t *testing.T) {
	e := newEnv(t, Options{})
	before := e.unlockBeforeRename("proj/plan.odt")
	e.write("proj/plan.odt", "y", 0o644)
	if err := e.l.Lock("proj/plan.odt", alice); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if err := e.l.Reconcile(func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if after := stateOf(t, e.path("renamed/plan.odt")); after != before {
		t.Errorf("the orphan's copy after the Reconcile %+v, want %+v", after, before)
	}
	if !e.l.Locked("proj/plan.odt") || stateOf(t, e.path("proj/plan.odt")).mode&0o222 != 0 {
		t.Errorf("the new lock of proj/plan.odt was lost: held %v", e.l.Held())
	}
	if len(e.orphans()) != 0 {
		t.Errorf("orphans left: %v", e.orphans())
	}
}

// An orphan whose copy is nowhere in the root (deleted, or moved out of
// it) waits orphanFor for its rename's Moved, then a Reconcile forgets
// it.
func TestOrphanNotFoundIsForgottenOnceOld(t *testing.T) {
	now := time.Now()
	e := newEnv(t, Options{Now: func() time.Time { return now }})
	if err := os.MkdirAll(e.path("proj"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("proj/plan.odt", "x", 0o644)
	if err := e.l.Lock("proj/plan.odt", alice); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	t.Cleanup(func() { clearFlags(out) }) // the copy stays locked out there
	if err := os.Rename(e.path("proj"), filepath.Join(out, "elsewhere")); err != nil {
		t.Skipf("cannot move the folder out of the root: %v", err)
	}
	if err := e.l.Unlock("proj/plan.odt"); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if err := e.l.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if got := e.orphans(); !slices.Equal(got, []string{"proj/plan.odt"}) {
		t.Fatalf("orphans after a Reconcile within orphanFor: %v, want it kept", got)
	}
	now = now.Add(orphanFor + time.Second)
	if err := e.l.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if got := e.orphans(); len(got) != 0 {
		t.Errorf("orphans after a Reconcile past orphanFor: %v, want none", got)
	}
}

// unlockBeforeRename writes rel below proj, locks it, renames proj to
// renamed and then unlocks rel at its old path: an unlock that comes
// before its folder's rename is known. It returns the copy's state before
// the lock.
func (e *env) unlockBeforeRename(rel string) state {
	e.t.Helper()
	if err := os.MkdirAll(e.path(path.Dir(rel)), 0o755); err != nil {
		e.t.Fatal(err)
	}
	before := stateOf(e.t, e.write(rel, "x", 0o644))
	if err := e.l.Lock(rel, alice); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(e.path("proj"), e.path("renamed")); err != nil {
		e.t.Fatal(err)
	}
	if err := e.l.Unlock(rel); err != nil {
		e.t.Fatal(err)
	}
	return before
}
