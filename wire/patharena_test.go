package wire

import (
	"fmt"
	"strings"
	"testing"
)

// Every copy keeps its value while many more are made after it, across
// blocks, including paths longer than a block.
func TestPathArenaCopiesStayIntact(t *testing.T) {
	var a PathArena
	var want, got []string
	for i := range 20000 {
		p := fmt.Sprintf("projects/group-%05d/document-%03d.dat", i/100, i%100)
		if i%5000 == 7 {
			p = strings.Repeat("long/", pathBlock/5+1) + p
		}
		want = append(want, p)
		if i%2 == 0 {
			got = append(got, a.Copy(p))
		} else {
			got = append(got, a.CopyBytes([]byte(p)))
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("copy %d reads %q, want %q", i, got[i], want[i])
		}
	}
	if a.Copy("") != "" {
		t.Fatal("an empty path's copy is not empty")
	}
}

// Paths share blocks: many copies allocate a few blocks, not an object
// each.
func TestPathArenaSharesBlocks(t *testing.T) {
	var a PathArena
	p := "projects/group-00042/folder-0004217/document-017.dat"
	allocs := testing.AllocsPerRun(10, func() {
		for range 1000 {
			a.Copy(p)
		}
	})
	if allocs > 2 {
		t.Fatalf("1000 copies of %d bytes took %.0f allocations, want at most 2", len(p), allocs)
	}
}
