package hub

import (
	"slices"
	"testing"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// A folder renamed live carries the conflicts listed in it (make chaos,
// seed 71049): site-c renames a/c, which holds a file quarantined as
// edited at once on site-a and site-b, to b/moved; the File Conflict List,
// kept and in memory, then names the file at its new path, and the index
// its record there, so that the copies that moved with the folder stay
// left to the operator, and nothing is left listed where no copy is.
func TestLiveRenameMovesTheConflictsInTheFolder(t *testing.T) {
	r := graceRun(t, 0)
	r.lags = map[string]map[string]*lag{}
	all := []string{"site-a", "site-b", "site-c"}
	putIndex(t, r, conflict.Record{Entry: folder("a"), Hosts: all}, conflict.Record{Entry: folder("a/c"), Hosts: all},
		conflict.Record{Entry: file("a/c/f2.txt", 0), Hosts: all}, conflict.Record{Entry: file("a/cc", 0), Hosts: all})
	copies := []conflict.Copy{{Host: "site-a", Entry: file("a/c/f2.txt", 1)}, {Host: "site-b", Entry: file("a/c/f2.txt", 2)}}
	r.quarantineLive("a/c/f2.txt", conflict.ReasonConcurrentEdit, "modified at the same time on site-a and site-b", copies)
	r.quarantineLive("a/cc", conflict.ReasonConcurrentEdit, "a name that only begins like the folder's", nil)

	targets := []string{"site-a", "site-b"}
	batch := []wire.Change{{Kind: wire.ChangeRename, Path: "b/moved", OldPath: "a/c", Entry: folder("b/moved")}}
	done, ops := r.decide("site-c", targets, batch)
	if len(done) != 1 || len(ops["site-a"]) != 1 || ops["site-a"][0].Kind != wire.OpRename {
		t.Fatalf("carried %+v with ops %+v, want the rename", done, ops)
	}
	ok := map[string]map[string]bool{"b/moved": {"site-a": true, "site-b": true}}
	r.indexChanges("site-c", targets, done, ok)

	if !r.quarantined("b/moved/f2.txt") || r.quarantined("a/c/f2.txt") || !r.quarantined("a/cc") {
		t.Errorf("in memory, listed: %v; want b/moved/f2.txt and a/cc", r.quarantine)
	}
	qs, err := r.h.db.Quarantines(r.cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, q := range qs {
		paths = append(paths, q.Path)
	}
	if want := []string{"a/cc", "b/moved/f2.txt"}; !slices.Equal(paths, want) {
		t.Errorf("kept, listed: %v, want %v", paths, want)
	}
	if st := r.status(); st.Quarantined != 2 {
		t.Errorf("status counts %d conflicts, want 2", st.Quarantined)
	}
	if _, had, err := r.h.db.Index(r.cfg.Name, "b/moved/f2.txt"); err != nil || !had {
		t.Errorf("index record at the new path: %v, %v", had, err)
	}
}
