//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/sync/watch"
)

// Agents taking tree changes from fanotify (--watch-tree fanotify: no
// inotify watch per folder) keep a live session in step: a file made deep
// in a new folder, its modification, a folder renamed with its content and
// a removal all reach the other hosts.
func TestLiveFanotifyTree(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("tree changes by fanotify need root (or CAP_SYS_ADMIN and CAP_DAC_READ_SEARCH)")
	}
	c := liveCluster(t)
	if err := watch.ProbeRoot(c.dir).FanotifyTree; err != nil {
		t.Skipf("tree changes by fanotify are not available here: %v", err)
	}
	c.agentArgs = []string{"--watch-tree", "fanotify"}
	for _, h := range threeHosts {
		writeFile(t, c.root(h), "docs/keep.txt", "keep\n", liveT0)
	}
	startLive(t, c, "fantree")
	for _, h := range threeHosts {
		if log := c.proc("agent-" + h).logTail(200); !strings.Contains(log, `"tree":"fanotify"`) {
			t.Fatalf("agent %s does not say it watches by fanotify:\n%s", h, log)
		}
	}

	a := c.root("site-a")
	deep := filepath.Join(a, "docs", "x", "y", "z")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(deep, "new.txt"), []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	converged(t, c, liveWait, "the new file everywhere", func(tr map[string]node) bool {
		_, ok := tr["docs/x/y/z/new.txt"]
		return ok
	})
	if err := os.WriteFile(filepath.Join(deep, "new.txt"), []byte("second version\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	converged(t, c, liveWait, "the modification everywhere", func(tr map[string]node) bool {
		return tr["docs/x/y/z/new.txt"].Size == int64(len("second version\n"))
	})
	if err := os.Rename(filepath.Join(a, "docs", "x"), filepath.Join(a, "docs", "renamed")); err != nil {
		t.Fatal(err)
	}
	converged(t, c, liveWait, "the folder renamed with its content everywhere", func(tr map[string]node) bool {
		_, old := tr["docs/x"]
		_, moved := tr["docs/renamed/y/z/new.txt"]
		return moved && !old
	})
	if err := os.Remove(filepath.Join(a, "docs", "keep.txt")); err != nil {
		t.Fatal(err)
	}
	converged(t, c, liveWait, "the removal everywhere", func(tr map[string]node) bool {
		_, ok := tr["docs/keep.txt"]
		return !ok
	})
}
