package tree

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// stage writes content to name with DeferSync and returns its outcome.
func stage(t *testing.T, tr *Tree, name, content string) *Staged {
	t.Helper()
	p, err := tr.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	p.DeferSync()
	io.WriteString(p, content)
	if err := p.Commit(entryFor(name, content, 7, 0o640), nil); err != nil {
		t.Fatal(err)
	}
	st := p.Staged()
	if st == nil {
		t.Fatal("Commit with DeferSync returned no Staged")
	}
	return st
}

func TestStagedOutcome(t *testing.T) {
	tr, dir := openTree(t)
	writeFile(t, filepath.Join(dir, "b/taken"), "a user's")
	ok := stage(t, tr, "a/1", "one")
	taken := stage(t, tr, "b/taken", "ours")
	select {
	case <-ok.Done():
		t.Fatal("a staged file is decided before Sync")
	default:
	}
	if ok.Err() == nil {
		t.Error("Err is nil before Sync")
	}
	if _, ok := ok.Info(); ok {
		t.Error("Info is known before Sync")
	}
	if _, err := tr.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := ok.Err(); err != nil {
		t.Errorf("a/1: %v", err)
	}
	info, known := ok.Info()
	want, err := tr.Lstat("a/1")
	if !known || err != nil || info != want {
		t.Errorf("Info %+v (known %v), Lstat after Sync %+v (%v)", info, known, want, err)
	}
	if err := taken.Err(); !isKind(err, wire.KindChanged) {
		t.Errorf("b/taken: %v, want changed since the scan", err)
	}
	if _, known := taken.Info(); known {
		t.Error("Info known of a file not put in place")
	}
	if got := readFile(t, filepath.Join(dir, "b/taken")); got != "a user's" {
		t.Errorf("the user's file was replaced: %q", got)
	}
}

// A Sync returns only once every file staged before it was called is
// decided, even by a Sync that another goroutine started first.
func TestSyncDecidesEverythingStagedBefore(t *testing.T) {
	tr, _ := openTree(t)
	for round := range 20 {
		var all []*Staged
		var mu sync.Mutex
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 10 {
					st := stage(t, tr, filepath.Join("d", string(rune('a'+g)), string(rune('a'+round))+string(rune('a'+i))), "x")
					mu.Lock()
					all = append(all, st)
					mu.Unlock()
					if i%3 == 0 {
						tr.Sync()
					}
				}
			})
		}
		wg.Wait()
		if _, err := tr.Sync(); err != nil {
			t.Fatal(err)
		}
		for _, st := range all {
			select {
			case <-st.Done():
				if err := st.Err(); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatal("a file staged before Sync is undecided after it")
			}
		}
	}
}

func TestCloseFailsWhatIsStaged(t *testing.T) {
	tr, dir := openTree(t)
	st := stage(t, tr, "a/1", "one")
	tr.Close()
	select {
	case <-st.Done():
	default:
		t.Fatal("Close left a staged file undecided")
	}
	if st.Err() == nil {
		t.Error("a staged file dropped by Close reports success")
	}
	if left := temps(t, dir); len(left) != 1 {
		t.Errorf("temp files %v, want the dropped one left for the next scan", left)
	}
}

// A replace that the tree's guard refuses (the agent: the file is open
// for writing) leaves the destination as it was, staged or not; a new
// file is not asked about.
func TestGuardRefusesReplace(t *testing.T) {
	tr, dir := openTree(t)
	writeFile(t, filepath.Join(dir, "open"), "being written")
	have, err := tr.Lstat("open")
	if err != nil {
		t.Fatal(err)
	}
	haveEntry := have.Entry("open")
	var asked []string
	tr.GuardReplace(func(p string) error {
		asked = append(asked, p)
		return &wire.Error{Kind: wire.KindOpen, Path: p, Msg: "open for writing"}
	})
	for _, deferSync := range []bool{false, true} {
		p, err := tr.Create("open")
		if err != nil {
			t.Fatal(err)
		}
		if deferSync {
			p.DeferSync()
		}
		io.WriteString(p, "winner")
		err = p.Commit(entryFor("open", "winner", 7, 0o644), &haveEntry)
		if deferSync && err == nil {
			if _, err := tr.Sync(); err != nil {
				t.Fatal(err)
			}
			err = p.Staged().Err()
		}
		if !isKind(err, wire.KindOpen) {
			t.Errorf("deferSync %v: commit over an open file: %v, want refused as open for writing", deferSync, err)
		}
		if got := readFile(t, filepath.Join(dir, "open")); got != "being written" {
			t.Errorf("deferSync %v: the open file was replaced: %q", deferSync, got)
		}
	}
	if st := stage(t, tr, "new", "fresh"); st != nil {
		if _, err := tr.Sync(); err != nil || st.Err() != nil {
			t.Errorf("a new file: sync %v, staged %v", err, st.Err())
		}
	}
	if len(asked) != 2 {
		t.Errorf("guard asked about %q, want the two replaces only", asked)
	}
}

// A user who renames the folder of a staged file before the Sync (the hub
// planned the file at its old path) gets no temp file left in the renamed
// folder: the file fails as changed, and its temp file is removed from the
// folder it was written in, wherever that is now. The folder's count of
// held descriptors is back to zero after.
func TestSyncRemovesTheTempOfAFolderRenamedMeanwhile(t *testing.T) {
	bothSyncWays(t, func(t *testing.T) {
		tr, dir := openTree(t)
		moved := stage(t, tr, "a/c/x", "ours")
		replaced := stage(t, tr, "b/y", "ours")
		stays := stage(t, tr, "d/z", "ours")
		if err := os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "e")); err != nil {
			t.Fatal(err)
		}
		// b is renamed away and a new b made in its place: the path
		// opens, but it is another folder than the temp file's.
		if err := os.Rename(filepath.Join(dir, "b"), filepath.Join(dir, "f")); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "b"), 0o755); err != nil {
			t.Fatal(err)
		}
		tr.Sync()
		for name, st := range map[string]*Staged{"a/c/x": moved, "b/y": replaced} {
			if st.Err() == nil {
				t.Errorf("%s: placed, though its folder was renamed away", name)
			}
		}
		if err := stays.Err(); err != nil {
			t.Errorf("d/z: %v", err)
		}
		if left := temps(t, dir); len(left) != 0 {
			t.Errorf("temp files left: %v", left)
		}
		if n := tr.heldFolders.Load(); n != 0 {
			t.Errorf("%d folders still held after the Sync", n)
		}
	})
}

// Past maxHeldFolders staged files in folders of their own, the rest are
// staged without a held folder and still put in place; nothing stays held.
func TestStagedFoldersBeyondTheLimit(t *testing.T) {
	tr, dir := openTree(t)
	var all []*Staged
	for i := range maxHeldFolders + 20 {
		all = append(all, stage(t, tr, fmt.Sprintf("d%03d/f", i), "x"))
	}
	if n := tr.heldFolders.Load(); n != maxHeldFolders {
		t.Errorf("%d folders held, want the limit %d", n, maxHeldFolders)
	}
	if _, err := tr.Sync(); err != nil {
		t.Fatal(err)
	}
	for i, st := range all {
		if err := st.Err(); err != nil {
			t.Errorf("d%03d/f: %v", i, err)
		}
	}
	if n := tr.heldFolders.Load(); n != 0 {
		t.Errorf("%d folders still held after the Sync", n)
	}
	if left := temps(t, dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}
