package agent

import (
	"slices"
	"testing"
)

func TestTopRoots(t *testing.T) {
	tests := []struct {
		name       string
		paths, out []string
	}{
		{name: "nothing", out: []string{}},
		{name: "duplicates go", paths: []string{"b", "a", "b"}, out: []string{"a", "b"}},
		{name: "a path below a folder in the list goes", paths: []string{"d/x.txt", "d", "d/e/f"}, out: []string{"d"}},
		{name: "a sibling sharing the folder's name as a prefix stays", paths: []string{"d-2/x", "d/x", "d"}, out: []string{"d", "d-2/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := topRoots(slices.Clone(tt.paths))
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tt.out) {
				t.Errorf("topRoots(%q) = %q, want %q", tt.paths, got, tt.out)
			}
		})
	}
}
