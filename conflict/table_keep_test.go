package conflict

import (
	"slices"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// A folder removed by the source while content it never held arrived in
// it (live_keep.go): what the source held below is removed, the rest and
// the folders on the way to it stay.
func TestLiveFolderRemovalKeepsWhatTheSourceLacked(t *testing.T) {
	all := []string{"a", "b", "c"}
	a := D("a")
	runLive(t, []liveCase{
		{
			name:  "everything below held by the source: one removal of the folder",
			index: []Record{R(a, all...)},
			below: []Record{R(v("a/f2.txt", 1), all...), R(D("a/c"), all...), R(v("a/c/n.md", 2), all...)},
			batch: []wire.Change{remove("a")},
			ops:   map[string]string{"*": "delete a have dir"},
		},
		{
			name:    "a new file the source never got: kept with its folder",
			index:   []Record{R(a, all...)},
			below:   []Record{R(v("a/f1.txt", 3), "b", "c"), R(v("a/f2.txt", 1), all...), R(D("a/c"), all...), R(v("a/c/n.md", 2), all...)},
			batch:   []wire.Change{remove("a")},
			ops:     map[string]string{"*": "delete a/c have dir; delete a/f2.txt have v1"},
			refused: "kept-below a",
		},
		{
			name:    "a copy the source lags on counts as not held",
			index:   []Record{R(a, all...)},
			below:   []Record{R(v("a/f1.txt", 3), all...), R(v("a/f2.txt", 1), all...)},
			lagging: map[string]map[string]*wire.Entry{"a/f1.txt": {"a": nil}},
			batch:   []wire.Change{remove("a")},
			ops:     map[string]string{"*": "delete a/f2.txt have v1"},
			refused: "kept-below a",
		},
		{
			name:  "deep: only the largest parts holding nothing kept go",
			index: []Record{R(a, all...)},
			below: []Record{
				R(D("a/w"), all...), R(v("a/w/1", 1), all...),
				R(D("a/x"), all...), R(D("a/x/y"), all...), R(v("a/x/y/new", 3), "b"), R(v("a/x/y/old", 1), all...),
				R(D("a/x/z"), all...), R(v("a/x/z/1", 2), all...),
			},
			batch:   []wire.Change{remove("a")},
			ops:     map[string]string{"*": "delete a/w have dir; delete a/x/y/old have v1; delete a/x/z have dir"},
			refused: "kept-below a",
		},
		{
			name:    "children removed before the folder in the batch are not removed twice",
			index:   []Record{R(a, all...), R(v("a/f2.txt", 1), all...)},
			below:   []Record{R(v("a/f1.txt", 3), "b", "c"), R(v("a/f2.txt", 1), all...)},
			batch:   []wire.Change{remove("a/f2.txt"), remove("a")},
			ops:     map[string]string{"*": "delete a/f2.txt have v1"},
			refused: "kept-below a; echo a/f2.txt",
		},
	})
}

func TestLiveRemovedFolders(t *testing.T) {
	index := map[string]Record{"a": R(D("a"), "a"), "f": R(v("f", 1), "a")}
	got := LiveRemovedFolders([]wire.Change{remove("f"), remove("a"), remove("gone"), mkdir("d"), remove("a")}, index)
	if !slices.Equal(got, []string{"a"}) {
		t.Errorf("LiveRemovedFolders = %q, want [a]: the removals of folders the index lists, once", got)
	}
}
