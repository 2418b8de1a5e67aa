//go:build unix && !tree_portable

package tree

import (
	"errors"
	"syscall"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// Room measures the file system at the nearest existing folder of a path,
// refuses a size beyond what is free with ENOSPC (which the wire reports as
// no space), and refuses a path that leaves the root before measuring.
func TestRoom(t *testing.T) {
	tr, _ := openTree(t)
	if err := tr.Mkdir("a", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"f", "a/f", "a/not/yet/f"} {
		if err := tr.Room(p, 1); err != nil {
			t.Errorf("Room(%s, 1): %v", p, err)
		}
		err := tr.Room(p, 1<<62)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Room(%s, 1<<62) = %v, want ENOSPC", p, err)
		}
		if k := wire.ToError("fetch", "h", p, err).Kind; k != wire.KindNoSpace {
			t.Errorf("Room(%s, 1<<62) reported as %v, want no space", p, k)
		}
	}
	if err := tr.Room("../outside", 1); err == nil {
		t.Error("Room accepted a path outside the root")
	}
}
