package conflict

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// byElements is the reference tree order: compare element by element.
func byElements(a, b string) int {
	return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
}

func TestComparePathsIsTreeOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "a-b", "a.b", "ab", "b", "a b", "A", "\u00e9", "z"}
	var paths []string
	for range 300 {
		var elems []string
		for range 1 + rng.IntN(4) {
			elems = append(elems, names[rng.IntN(len(names))])
		}
		paths = append(paths, strings.Join(elems, "/"))
	}
	for _, a := range paths {
		for _, b := range paths[:50] {
			if got, want := comparePaths(a, b), byElements(a, b); got != want {
				t.Fatalf("comparePaths(%q, %q) = %d, element order says %d", a, b, got, want)
			}
		}
	}
	for _, a := range paths {
		for _, b := range paths[:50] {
			if got, want := ComparePathBytes([]byte(a), b), comparePaths(a, b); got != want {
				t.Fatalf("ComparePathBytes(%q, %q) = %d, comparePaths says %d", a, b, got, want)
			}
		}
	}
	sorted := slices.Clone(paths)
	slices.SortFunc(sorted, comparePaths)
	for i, p := range sorted {
		// everything between a folder and a path below it is below it too
		for j := i + 1; j < len(sorted); j++ {
			if !isAncestor(p, sorted[j]) && sorted[j] != p {
				for k := j + 1; k < len(sorted); k++ {
					if isAncestor(p, sorted[k]) {
						t.Fatalf("%q is between %q and %q, which is below it", sorted[j], p, sorted[k])
					}
				}
				break
			}
		}
	}
}

func TestWholeSecondsFloors(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{
		{0, 0},
		{999_999_999, 0},
		{1_000_000_000, 1_000_000_000},
		{1_500_000_000, 1_000_000_000},
		{-1, -1_000_000_000},
		{-1_000_000_000, -1_000_000_000},
		{-1_000_000_001, -2_000_000_000},
	} {
		if got := wholeSeconds(tc.in); got != tc.want {
			t.Errorf("wholeSeconds(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
