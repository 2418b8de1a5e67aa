//go:build !linux || tree_portable

package tree

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestFlagsSayUnsupported(t *testing.T) {
	tr, dir := openTree(t)
	writeFile(t, filepath.Join(dir, "f"), "x")
	f, err := tr.OpenRead("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Flags(f); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Flags: %v", err)
	}
	if err := SetFlags(f, FlagImmutable); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SetFlags: %v", err)
	}
	if _, err := Generation(f); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Generation: %v", err)
	}
}
