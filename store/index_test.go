package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

func fileRec(path string, size int64, hosts ...string) conflict.Record {
	return conflict.Record{
		Entry: wire.Entry{Path: path, Kind: wire.KindFile, Size: size, Mtime: 1_700_000_000_000_000_000 + size,
			Mode: 0o644, Hash: sha256.Sum256([]byte(path))},
		Hosts: hosts,
	}
}

func dirRec(path string, hosts ...string) conflict.Record {
	return conflict.Record{Entry: wire.Entry{Path: path, Kind: wire.KindDir, Mtime: 3, Mode: 0o755}, Hosts: hosts}
}

func sameRecord(a, b conflict.Record) bool {
	return a.Entry == b.Entry && slices.Equal(a.Hosts, b.Hosts)
}

func TestIndexRoundTripAndPersistence(t *testing.T) {
	h, path := newHub(t)
	recs := []conflict.Record{
		fileRec("zeta", 1<<40, "a", "b"),
		fileRec("docs/plan é ü 計画.odt", 12, "b"),
		fileRec("empty", 0, "a"),
		fileRec("huge", 1<<62, "a", "b"),
		dirRec("docs", "a", "b"),
		dirRec("docs/deep/er", "a"),
		dirRec("nobody"),
	}
	must(t, h.PutIndex("s", recs))
	h.Close()
	h = openHub(t, path)
	defer h.Close()
	got, err := h.LoadIndex("s")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("loaded %d records, want %d", len(got), len(recs))
	}
	for _, r := range recs {
		if !sameRecord(got[r.Entry.Path], r) {
			t.Errorf("%s: got %+v, want %+v", r.Entry.Path, got[r.Entry.Path], r)
		}
	}
	r, ok, err := h.Index("s", "docs/plan é ü 計画.odt")
	if err != nil || !ok || !sameRecord(r, recs[1]) {
		t.Errorf("Index: %+v, %v, %v", r, ok, err)
	}
	if _, ok, err := h.Index("s", "absent"); ok || err != nil {
		t.Errorf("absent path: %v, %v", ok, err)
	}
	if m, err := h.LoadIndex("never"); err != nil || len(m) != 0 {
		t.Errorf("index of an unknown session: %v, %v", m, err)
	}
}

func TestPutIndexRefusesBadInput(t *testing.T) {
	h, _ := newHub(t)
	tests := []struct {
		name    string
		session string
		rec     conflict.Record
	}{
		{"an unknown session", "nope", fileRec("f", 1, "a")},
		{"an unclean path", "s", fileRec("a/../b", 1, "a")},
		{"an absolute path", "s", fileRec("/etc/passwd", 1, "a")},
		{"a folder with a size", "s", conflict.Record{Entry: wire.Entry{Path: "d", Kind: wire.KindDir, Size: 3}}},
		{"a negative size", "s", fileRec("f", -1, "a")},
		{"an unknown kind", "s", conflict.Record{Entry: wire.Entry{Path: "x", Kind: 7}}},
		{"a bad host name", "s", fileRec("f", 1, "a/b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := h.PutIndex(tt.session, []conflict.Record{fileRec("good", 1, "a"), tt.rec}); err == nil {
				t.Fatal("stored")
			}
			// One transaction: nothing of the batch was kept.
			if _, ok, _ := h.Index("s", "good"); ok {
				t.Error("the good record of a refused batch was stored")
			}
		})
	}
}

func TestIndexHostsAddedLater(t *testing.T) {
	h, path := newHub(t)
	must(t, h.PutIndex("s", []conflict.Record{fileRec("f", 1, "a"), fileRec("g", 2, "b"), dirRec("d", "a")}))
	// The hub records completed transfers; a host added to the session later
	// (h9, beyond the first mask byte) shows up too.
	var adds []HostPath
	for i := range 9 {
		adds = append(adds, HostPath{Host: fmt.Sprintf("h%d", i+1), Path: "f"})
	}
	adds = append(adds, HostPath{Host: "b", Path: "f"}, HostPath{Host: "a", Path: "g"}, HostPath{Host: "a", Path: "gone"})
	missing, err := h.AddIndexHosts("s", adds)
	if err != nil || missing != 1 {
		t.Fatalf("add hosts: missing %d, %v", missing, err)
	}
	if _, err := h.AddIndexHosts("s", []HostPath{{Host: "../x", Path: "f"}}); err == nil {
		t.Error("a bad host name was added")
	}
	h.Close()
	h = openHub(t, path)
	defer h.Close()
	got, err := h.LoadIndex("s")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "b", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"}
	if !slices.Equal(got["f"].Hosts, want) {
		t.Errorf("f hosts %q, want %q (configured hosts first, then in order added)", got["f"].Hosts, want)
	}
	if !slices.Equal(got["g"].Hosts, []string{"a", "b"}) || !slices.Equal(got["d"].Hosts, []string{"a"}) {
		t.Errorf("g hosts %q, d hosts %q", got["g"].Hosts, got["d"].Hosts)
	}
	if got["f"].Entry != fileRec("f", 1).Entry {
		t.Errorf("adding hosts changed the entry: %+v", got["f"].Entry)
	}
}

func TestForEachIndexPrefixAndStop(t *testing.T) {
	h, _ := newHub(t)
	must(t, h.PutIndex("s", []conflict.Record{dirRec("d", "a"), fileRec("d/x", 1, "a"), fileRec("d/y/z", 1, "a"), fileRec("d-sibling", 1, "a"), fileRec("e", 1, "a")}))
	var under []string
	must(t, h.ForEachIndex("s", "d/", func(r conflict.Record) error {
		under = append(under, r.Entry.Path)
		return nil
	}))
	if !slices.Equal(under, []string{"d/x", "d/y/z"}) {
		t.Errorf("below d/: %q", under)
	}
	stop := errors.New("stop")
	n := 0
	err := h.ForEachIndex("s", "", func(conflict.Record) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("stopping walk: %v after %d", err, n)
	}
}

func TestIndexChildren(t *testing.T) {
	h, _ := newHub(t)
	must(t, h.PutIndex("s", []conflict.Record{
		dirRec("d", "a"), fileRec("d.txt", 1, "a"), fileRec("d/x", 1, "a"), dirRec("d/y", "a"), fileRec("d/y/z", 1, "a"),
		fileRec("d/y.txt", 1, "a"), fileRec("d-sibling", 1, "a"), dirRec("d0", "a"), fileRec("d0/in", 1, "a"), fileRec("e", 1, "a"),
	}))
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"", []string{"d", "d-sibling", "d.txt", "d0", "e"}},
		{"d", []string{"x", "y", "y.txt"}},
		{"d/y", []string{"z"}},
		{"d0", []string{"in"}},
		{"none", nil},
	} {
		var got []string
		must(t, h.IndexChildren("s", tc.dir, func(name string) { got = append(got, name) }))
		if !slices.Equal(got, tc.want) {
			t.Errorf("children of %q: %q, want %q", tc.dir, got, tc.want)
		}
	}
}

func TestDeleteMoveAndClearIndex(t *testing.T) {
	h, _ := newHub(t)
	must(t, h.PutIndex("s", []conflict.Record{
		dirRec("old", "a"), fileRec("old/f", 1, "a", "b"), fileRec("old/sub/g", 2, "b"), fileRec("old-not-below", 3, "a"),
		dirRec("new", "b"), fileRec("new/stale", 4, "b"), fileRec("keep", 5, "a"),
	}))
	must(t, h.DeleteIndex("s", []string{"keep", "absent"}))
	n, err := h.MoveIndex("s", "old", "new")
	if err != nil || n != 3 {
		t.Fatalf("move: %d, %v", n, err)
	}
	got, _ := h.LoadIndex("s")
	want := []string{"new", "new/f", "new/sub/g", "old-not-below"}
	if paths := slices.Sorted(maps.Keys(got)); !slices.Equal(paths, want) {
		t.Errorf("after move: %q, want %q", paths, want)
	}
	if r := got["new/f"]; r.Entry.Path != "new/f" || r.Entry.Size != 1 || !slices.Equal(r.Hosts, []string{"a", "b"}) {
		t.Errorf("moved record: %+v", r)
	}
	if _, err := h.MoveIndex("s", "new", "new/inside"); err == nil {
		t.Error("moved a folder into itself")
	}
	if _, err := h.MoveIndex("s", "new/sub", "new"); err == nil {
		t.Error("moved a folder onto its parent")
	}
	if n, err := h.MoveIndex("s", "absent", "x"); n != 0 || err != nil {
		t.Errorf("move of nothing: %d, %v", n, err)
	}
	must(t, h.ClearIndex("s"))
	if got, _ := h.LoadIndex("s"); len(got) != 0 {
		t.Errorf("after clear: %d records", len(got))
	}
}

func TestReplaceIndex(t *testing.T) {
	h, _ := newHub(t)
	must(t, h.PutIndex("s", []conflict.Record{fileRec("old", 1, "a"), fileRec("both", 1, "x9")}))
	next := map[string]conflict.Record{"both": fileRec("both", 2, "b"), "new": fileRec("", 3, "a")}
	r := next["new"]
	r.Entry.Path = ""
	next["new"] = r
	must(t, h.ReplaceIndex("s", next))
	got, _ := h.LoadIndex("s")
	if len(got) != 2 || got["both"].Entry.Size != 2 || got["new"].Entry.Path != "new" || !slices.Equal(got["both"].Hosts, []string{"b"}) {
		t.Errorf("after replace: %+v", got)
	}
	// A refused replacement leaves the index as it was.
	bad := map[string]conflict.Record{"ok": fileRec("ok", 1, "a"), "x": fileRec("y", 1, "a")}
	if err := h.ReplaceIndex("s", bad); err == nil {
		t.Fatal("a record under the wrong key was accepted")
	}
	if got2, _ := h.LoadIndex("s"); len(got2) != 2 {
		t.Errorf("after refused replace: %d records", len(got2))
	}
	if err := h.ReplaceIndex("nope", next); !errors.Is(err, ErrNotFound) {
		t.Errorf("replace in an unknown session: %v", err)
	}
}

func TestReplaceIndexInManyTransactions(t *testing.T) {
	if testing.Short() {
		t.Skip("writes more than one chunk")
	}
	h, _ := newHub(t)
	m := make(map[string]conflict.Record, replaceChunk+10)
	for i := range replaceChunk + 10 {
		p := benchPath(i)
		m[p] = fileRec(p, int64(i), "a", "b")
	}
	must(t, h.ReplaceIndex("s", m))
	got, err := h.LoadIndex("s")
	if err != nil || len(got) != len(m) {
		t.Fatalf("loaded %d of %d: %v", len(got), len(m), err)
	}
}

// TestIndexBytesPerPath measures the file size of 100,000 records of
// typical paths on two hosts: the design aims under 300 bytes per path.
func TestIndexBytesPerPath(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 records")
	}
	h, path := newHub(t)
	const n = 100_000
	recs := benchRecords(n)
	before := usedBytes(t, h)
	must(t, h.PutIndex("s", recs))
	used := usedBytes(t, h) - before
	var keys int
	for _, r := range recs {
		keys += len(r.Entry.Path)
	}
	var st bolt.BucketStats
	must(t, h.db.View(func(tx *bolt.Tx) error { st = subBucket(tx, bucketIndex, "s").Stats(); return nil }))
	t.Logf("100k index records, mean path %d bytes: %.0f bytes/path of pages used (%d leaf pages, %.0f%% full), file %d bytes",
		keys/n, float64(used)/n, st.LeafPageN, 100*float64(st.LeafInuse)/float64(st.LeafAlloc), fileSize(t, path))
	if perPath := float64(used) / n; perPath > 300 {
		t.Errorf("%.0f bytes per path, want under 300", perPath)
	}
}

// usedBytes is the size of the pages bbolt has handed out: the file minus
// the space it preallocates to grow in large steps.
func usedBytes(t testing.TB, h *Hub) int64 {
	var n int64
	must(t, h.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }))
	return n
}

func fileSize(t testing.TB, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// benchPath spreads files over folders like a real tree: 100 files per
// folder, 3 levels.
func benchPath(i int) string {
	return fmt.Sprintf("projects/p%03d/src/module-%02d/file_%06d.go", i/10000, i/100%100, i)
}

func benchRecords(n int) []conflict.Record {
	recs := make([]conflict.Record, n)
	for i := range recs {
		recs[i] = fileRec(benchPath(i), int64(i*37%100_000), "a", "b")
	}
	return recs
}

func TestPutIndexLastDuplicateWins(t *testing.T) {
	h, _ := newHub(t)
	must(t, h.PutIndex("s", []conflict.Record{fileRec("f", 1, "a"), fileRec("g", 5, "a"), fileRec("f", 2, "b")}))
	if r, _, _ := h.Index("s", "f"); r.Entry.Size != 2 || !slices.Equal(r.Hosts, []string{"b"}) {
		t.Errorf("f: %+v, want the last record given", r)
	}
}

func TestPutIndexOfWritesTheNamedRecordsOnly(t *testing.T) {
	h, _ := newHub(t)
	index := map[string]conflict.Record{
		"b":     fileRec("b", 2, "a", "b"),
		"a":     dirRec("a", "a"),
		"a/x":   fileRec("a/x", 7, "b"),
		"other": fileRec("other", 9, "a"),
	}
	must(t, h.PutIndexOf("s", []string{"b", "a/x", "a"}, index))
	got, err := h.LoadIndex("s")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("loaded %d records, want the 3 named", len(got))
	}
	for _, p := range []string{"a", "a/x", "b"} {
		if !sameRecord(got[p], index[p]) {
			t.Errorf("%s: got %+v, want %+v", p, got[p], index[p])
		}
	}
	if err := h.PutIndexOf("s", []string{"other", "absent"}, index); err == nil {
		t.Error("a path without a record was accepted")
	}
	if _, ok, _ := h.Index("s", "other"); ok {
		t.Error("a refused PutIndexOf wrote some of its records")
	}
}

// TestPutIndexWithWritesInChunks: more records than one transaction
// writes all land, and LoadIndexSorted returns them in the engine's
// tree order ('/' before every other byte), not bbolt's byte order.
func TestPutIndexWithWritesInChunks(t *testing.T) {
	h, _ := newHub(t)
	index := map[string]conflict.Record{
		"a":   dirRec("a", "a"),
		"a-b": fileRec("a-b", 1, "a", "b"),
		"a/x": fileRec("a/x", 2, "b"),
	}
	var paths []string
	for i := range replaceChunk + 2 {
		p := fmt.Sprintf("d/f%06d", i)
		index[p] = fileRec(p, int64(i), "a")
	}
	index["d"] = dirRec("d", "a")
	for p := range index {
		paths = append(paths, p)
	}
	must(t, h.PutIndexWith("s", paths, func(p string) (conflict.Record, bool) {
		rec, ok := index[p]
		return rec, ok
	}))
	got, err := h.LoadIndexSorted("s")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(index) {
		t.Fatalf("loaded %d records, want %d", len(got), len(index))
	}
	if got[0].Entry.Path != "a" || got[1].Entry.Path != "a/x" || got[2].Entry.Path != "a-b" {
		t.Errorf("first records %q, %q, %q; want a, a/x, a-b", got[0].Entry.Path, got[1].Entry.Path, got[2].Entry.Path)
	}
	for _, rec := range got {
		if !sameRecord(rec, index[rec.Entry.Path]) {
			t.Fatalf("%s: got %+v, want %+v", rec.Entry.Path, rec, index[rec.Entry.Path])
		}
	}
}
