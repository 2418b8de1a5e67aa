package agent

import (
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// A file saved while the session runs is hashed once; a large one gets its
// span list in that same read, recorded for its state, so that a delta of
// it reads nothing more; a small one gets none.
func TestHashSignedRecordsTheSignatureOfLargeFiles(t *testing.T) {
	a, err := New(Config{Name: "site-a", DataDir: t.TempDir(), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.db.Close()
	root := t.TempDir()
	big := make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	small := big[:delta.MinSize-1]
	for name, b := range map[string][]byte{"big": big, "small": small} {
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := tree.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	s := &attached{name: "s", tree: tr}
	for name, b := range map[string][]byte{"big": big, "small": small} {
		info, err := tr.Lstat(name)
		if err != nil {
			t.Fatal(err)
		}
		h, err := a.hashSigned(s, name, info)
		if want := wire.Hash(sha256.Sum256(b)); err != nil || h != want {
			t.Errorf("%s: hash %x, %v; want %x", name, h, err, want)
		}
		sig, ok := a.db.Signature("s", name)
		if name == "small" {
			if ok {
				t.Errorf("a file under delta.MinSize got a signature")
			}
			continue
		}
		stamp := store.Cached{Size: info.Size, Mtime: info.Mtime, Ctime: info.Ctime, Ino: info.Ino}
		if !ok || !sig.Holds(stamp) {
			t.Fatalf("no signature of %s for its state (%v)", name, ok)
		}
		got, err := delta.ParseBlocks(sig.Spans, delta.MaxSpan)
		want := delta.NewSpans()
		want.Write(b)
		if err != nil || !slices.Equal(got, want.Blocks()) {
			t.Errorf("recorded spans %d (%v), want %d", len(got), err, len(want.Blocks()))
		}
	}
}
