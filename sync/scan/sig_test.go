package scan

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/sync/tree"
)

// A file of delta.MinSize or more gets its delta signature from the read
// that hashes it, recorded with its cache entry; a smaller one none; and a
// file the cache describes is not read again for it.
func TestScanComputesSignaturesOfLargeFiles(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, delta.MinSize+123457)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "small.txt"), big[:delta.MinSize-1], 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := tree.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	cache := newMapCache()
	scan(t, tr, Options{Cache: cache})
	s := delta.NewSpans()
	s.Write(big)
	if got, want := cache.spans["big.bin"], s.Blocks(); !slices.Equal(got, want) {
		t.Errorf("big.bin: signature %v, want %v", got, want)
	}
	if got, ok := cache.spans["small.txt"]; ok {
		t.Errorf("small.txt: signature %v, want none below delta.MinSize", got)
	}
	before := cache.updates
	if res := scan(t, tr, Options{Cache: cache}); res.stats.Hashed != 0 || cache.updates != before {
		t.Errorf("second scan hashed %d files, updated %d records; want none", res.stats.Hashed, cache.updates-before)
	}
}
