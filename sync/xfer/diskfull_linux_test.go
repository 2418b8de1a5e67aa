package xfer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// A disk that fills during the write (the agent's room check passed, then
// something else took the space) fails the fetch as no space, keeps the
// old copy and leaves no temp file, whether the fetch commits at once or
// is staged for the tree's next sync.
func TestFetchDiskFullLeavesOldCopyAndNoTemp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system to fill needs root")
	}
	for _, staged := range []bool{false, true} {
		t.Run(map[bool]string{false: "commit", true: "staged"}[staged], func(t *testing.T) {
			tr := newTrees(t)
			dir := t.TempDir()
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a tmpfs: %v %s", err, strings.TrimSpace(string(out)))
			}
			dst, err := tree.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				dst.Close()
				if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v %s", dir, err, out)
				}
			})
			old := []byte("the old copy\n")
			have := put(t, dir, "big.bin", old, 0o640, mtime.Add(-time.Hour))
			want := put(t, tr.srcDir, "big.bin", randomBytes(3<<20, 11), 0o644, mtime)
			op := fetchOp(want, &have)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if staged {
				_, st, ferr := FetchStaged(ctx, &fakeSource{t: tr.src}, dst, "s", op, nil)
				if ferr == nil && st != nil {
					_, ferr = dst.Sync()
				}
				err = ferr
			} else {
				_, err = Fetch(ctx, &fakeSource{t: tr.src}, dst, "s", op, nil)
			}
			if wire.ToError("fetch", "h", "big.bin", err).Kind != wire.KindNoSpace {
				t.Fatalf("fetch onto a full disk: %v, want no space", err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "big.bin")); err != nil || !bytes.Equal(b, old) {
				t.Errorf("the old copy now %d bytes (%v), want it kept", len(b), err)
			}
			noTemp(t, dir)
		})
	}
}
