package scan

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestAFileChangedBeforeItIsReadIsReadAgain(t *testing.T) {
	root := t.TempDir()
	write(t, root, "f", "old")
	tr := openTree(t, root)
	d, _ := tr.OpenDir("")
	before, err := d.Lstat("f")
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	write(t, root, "f", "new content")
	j := &job{path: "f", info: before, done: make(chan struct{})}
	j.hash(context.Background(), tr, make([]byte, 4))
	if j.warn != nil || j.entry.Hash != sha256.Sum256([]byte("new content")) || j.entry.Size != 11 {
		t.Errorf("entry %+v, warning %v", j.entry, j.warn)
	}
}

func TestAFileBeingWrittenIsLeftOutWithAWarning(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "growing.log")
	write(t, root, "growing.log", strings.Repeat("x", 8<<20))
	tr := openTree(t, root)
	d, _ := tr.OpenDir("")
	before, _ := d.Lstat("growing.log")
	d.Close()

	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	appendLine := func() {
		if _, err := f.Write([]byte("another line\n")); err != nil {
			t.Error(err)
		}
	}
	// Written to after the walk saw it, and again between the two reads:
	// a file being written throughout.
	appendLine()
	j := &job{path: "growing.log", info: before, done: make(chan struct{}), again: appendLine}
	j.hash(context.Background(), tr, make([]byte, 1<<20))
	if j.warn == nil || j.warn.Kind != wire.KindChanged || j.entry.Kind != 0 {
		t.Errorf("a file appended to throughout its hash: entry %+v, warning %v", j.entry, j.warn)
	}
	if !j.read {
		t.Error("the file was read but not counted as hashed")
	}
}

func TestCompareKeysIsPathOrder(t *testing.T) {
	names := []struct {
		name string
		dir  bool
	}{{"a", true}, {"a b", false}, {"a-1", false}, {"a.txt", false}, {"a0", false}, {"ab", true}, {"a", false}, {"", false}, {"é", true}, {"z", false}}
	for _, x := range names {
		for _, y := range names {
			kx, ky := x.name, y.name
			if x.dir {
				kx += "/"
			}
			if y.dir {
				ky += "/"
			}
			if got, want := sign(compareKeys(x.name, x.dir, y.name, y.dir)), strings.Compare(kx, ky); got != want {
				t.Errorf("compareKeys(%q dir=%v, %q dir=%v) = %d, want %d", x.name, x.dir, y.name, y.dir, got, want)
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
