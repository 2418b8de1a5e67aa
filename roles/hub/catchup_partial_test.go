package hub

import (
	"slices"
	"testing"
)

func TestAncestorsAndUnderRoots(t *testing.T) {
	tests := []struct {
		name    string
		roots   []string
		folders []string
		in, out []string // paths under the roots or not
	}{
		{name: "a file at the top has no folder", roots: []string{"a.txt"}, in: []string{"a.txt"}, out: []string{"a.txt2", "b"}},
		{name: "a deep file lists each folder above it once",
			roots: []string{"d/e/f.txt", "d/e/g.txt", "d/h"}, folders: []string{"d", "d/e"},
			in: []string{"d/e/f.txt", "d/h", "d/h/x/y"}, out: []string{"d", "d/e", "d/e/other", "d/hh"}},
		{name: "a folder root covers what is below it, not its siblings",
			roots: []string{"newdir"}, in: []string{"newdir", "newdir/inside.txt"}, out: []string{"newdir2/x", "newdi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ancestors(tt.roots)
			slices.Sort(got)
			if !slices.Equal(got, tt.folders) {
				t.Errorf("ancestors(%q) = %q, want %q", tt.roots, got, tt.folders)
			}
			set := map[string]bool{}
			for _, r := range tt.roots {
				set[r] = true
			}
			for _, p := range tt.in {
				if !underRoots(p, set) {
					t.Errorf("%s is not taken as under %q", p, tt.roots)
				}
			}
			for _, p := range tt.out {
				if underRoots(p, set) {
					t.Errorf("%s is taken as under %q", p, tt.roots)
				}
			}
		})
	}
}
