package tree

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// A file large enough to be hashed on another goroutine commits with the
// hash of what was written, in writes of every size, and is refused if
// that is not the hash wanted.
func TestLargePendingHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	content := make([]byte, asyncHashAfter+3*asyncHashBuf+123)
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name  string
		write int
		good  bool
	}{
		{"writes of a chunk", 1 << 20, true},
		{"writes larger than the hash buffers", 3*asyncHashBuf + 5, true},
		{"writes of a few bytes", 4093, true},
		{"a wrong hash", 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, dir := openTree(t)
			want := entryFor("big.bin", string(content), 5, 0o644)
			if !tc.good {
				want.Hash[0]++
			}
			p, err := tr.Create(want.Path)
			if err != nil {
				t.Fatal(err)
			}
			for b := content; len(b) > 0; {
				n := min(len(b), tc.write)
				if _, err := p.Write(b[:n]); err != nil {
					t.Fatal(err)
				}
				b = b[n:]
			}
			err = p.Commit(want, nil)
			if tc.good != (err == nil) {
				t.Fatalf("commit: %v", err)
			}
			if !tc.good {
				if !isKind(err, wire.KindChanged) {
					t.Fatalf("commit: %v, want changed", err)
				}
				return
			}
			if got := readFile(t, filepath.Join(dir, "big.bin")); got != string(content) {
				t.Fatal("content differs")
			}
		})
	}
}

// Aborting a large write ends its hashing goroutine (the race detector and
// the test's end would catch one left running) and leaves no temp file.
func TestLargePendingAbort(t *testing.T) {
	tr, dir := openTree(t)
	p, err := tr.Create("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for range 6 {
		if _, err := p.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if p.async == nil {
		t.Fatal("6 MiB written without the hashing goroutine")
	}
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if p.async != nil {
		t.Fatal("the hashing goroutine outlived Abort")
	}
	matches, _ := filepath.Glob(filepath.Join(dir, TempPrefix+"*"))
	if len(matches) != 0 {
		t.Fatalf("temp files left: %v", matches)
	}
}
