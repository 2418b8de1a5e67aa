package store

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/conflict"
)

// mappedKiB returns the resident kilobytes of the process's maps of file,
// from /proc/self/smaps.
func mappedKiB(t *testing.T, file string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	kib, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-"):
			in = len(fields) >= 6 && fields[5] == file
		case in && len(fields) == 3 && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			kib += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kib
}

// TestWholeIndexWalkLeavesItsPagesUnmapped: a walk of part of an index
// leaves the pages it read resident, as bbolt's map does; a walk of a
// whole one (a start-up's merge, the held counts) does not keep the file
// in the hub's resident set, and what is read afterwards is unchanged.
func TestWholeIndexWalkLeavesItsPagesUnmapped(t *testing.T) {
	h, path := newHub(t)
	var recs []conflict.Record
	for i := range 100_000 {
		recs = append(recs, fileRec(fmt.Sprintf("d/%05d/file.dat", i), int64(i), "a"))
	}
	must(t, h.PutIndex("s", recs))
	h.Close()
	h = openHub(t, path)
	defer h.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	fileKiB := int(fi.Size() >> 10)
	n := 0
	must(t, h.ForEachIndex("s", "d/", func(conflict.Record) error { n++; return nil }))
	if partial := mappedKiB(t, path); n != len(recs) || partial < fileKiB/2 {
		t.Fatalf("after a walk of d/ (%d records): %d KiB of the %d KiB file resident; want most of it (the test measures nothing otherwise)", n, partial, fileKiB)
	}
	for range 2 {
		got, err := h.LoadIndexSorted("s")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) || !sameRecord(got[123], recs[123]) {
			t.Fatalf("LoadIndexSorted: %d records, [123] = %+v", len(got), got[123])
		}
		if whole := mappedKiB(t, path); whole > fileKiB/8 {
			t.Errorf("after a walk of the whole index: %d KiB of the %d KiB file resident", whole, fileKiB)
		}
	}
	// Released as the walk goes, not only at its end.
	i, midway := 0, 0
	must(t, h.ForEachIndex("s", "", func(conflict.Record) error {
		if i++; i == 90_000 {
			midway = mappedKiB(t, path)
		}
		return nil
	}))
	if midway > fileKiB/2 {
		t.Errorf("90,000 records into a walk of %d: %d KiB of the %d KiB file resident", len(recs), midway, fileKiB)
	}
	byPath := map[string]conflict.Record{}
	for _, rec := range recs {
		rec.Hosts = []string{"a", "b"}
		byPath[rec.Entry.Path] = rec
	}
	paths := slices.Collect(maps.Keys(byPath))
	must(t, h.PutIndexWith("s", paths, func(p string) (conflict.Record, bool) { rec, ok := byPath[p]; return rec, ok }))
	if rewritten := mappedKiB(t, path); rewritten > fileKiB/4 {
		t.Errorf("after PutIndexWith of every record: %d KiB of the %d KiB file resident", rewritten, fileKiB)
	}
	held, err := h.IndexHeld("s")
	if err != nil || held["a"] != int64(len(recs)) || held["b"] != int64(len(recs)) {
		t.Fatalf("IndexHeld = %v, %v", held, err)
	}
	if whole := mappedKiB(t, path); whole > fileKiB/8 {
		t.Errorf("after IndexHeld: %d KiB of the %d KiB file resident", whole, fileKiB)
	}
}
