//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// Issue 14, point 4: the mass-delete breaker. A root that turns up empty,
// or a burst of deletions beyond the session's guard, deletes nothing
// elsewhere: the host's deletions are held until an operator approves or
// discards them, and everything else goes on.

// breakerCluster starts a hub and three agents and a running session
// over files written on site-a, synchronised everywhere.
func breakerCluster(t *testing.T, files map[string]string, extra ...string) *cluster {
	t.Helper()
	c := newCluster(t)
	for rel, content := range files {
		writeFile(t, c.root("site-a"), rel, content, liveT0)
	}
	for _, h := range threeHosts {
		c.root(h)
		c.startAgent(h)
	}
	c.createSession("s", threeHosts, append([]string{"--offline-delete-detection"}, extra...)...)
	c.mustCLI("session", "start", "s", "--wait")
	waitFor(t, liveWait, "the first synchronisation", func() bool { return treesEqual(t, c) })
	return c
}

func treesEqual(t *testing.T, c *cluster) bool {
	a := snapshot(t, c.root("site-a"))
	for _, h := range threeHosts[1:] {
		if diffTrees(a, snapshot(t, c.root(h))) != "" {
			return false
		}
	}
	return true
}

// heldOf returns the held deletions of host in session s, if any.
func heldOf(t *testing.T, c *cluster, host string) (api.HeldDeletions, bool) {
	t.Helper()
	for _, d := range c.session("s").Status.HeldDeletions {
		if d.Host == host {
			return d, true
		}
	}
	return api.HeldDeletions{}, false
}

// holdsAll fails the test unless every one of files is on host as written.
func holdsAll(t *testing.T, c *cluster, host string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		if b, err := os.ReadFile(livePath(c, host, rel)); err != nil || string(b) != content {
			t.Fatalf("%s on %s: %q, %v; want it kept", rel, host, b, err)
		}
	}
}

func numbered(n int, dir string) map[string]string {
	out := map[string]string{}
	for i := range n {
		out[fmt.Sprintf("%sf%d.txt", dir, i)] = fmt.Sprintf("file %d\n", i)
	}
	return out
}

// A host's root emptied while its agent was stopped (an unmounted share),
// with a guard of 3 files (the default's 1,000 would make a large test):
// at the next start, with Offline Delete Detection on, nothing is deleted
// elsewhere, the status and the event log say the deletions are held, a
// file added meanwhile on another host still goes everywhere, and a
// discard brings the files back to the emptied host.
func TestBreakerHoldsAnEmptiedRootAndDiscardBringsItBack(t *testing.T) {
	t.Parallel()
	files := numbered(4, "docs/")
	files["top.txt"] = "top\n"
	c := breakerCluster(t, files, "--delete-guard-min", "3")

	c.mustCLI("session", "stop", "s")
	c.proc("agent-site-c").stop()
	entries, err := os.ReadDir(c.root("site-c"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(c.root("site-c"), e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, c.root("site-b"), "meanwhile.txt", "new on b\n", time.Time{})
	c.startAgent("site-c")
	c.mustCLI("session", "start", "s", "--wait")

	d, ok := heldOf(t, c, "site-c")
	if !ok || d.Reason != "empty-root" || d.Files != len(files) {
		t.Fatalf("held deletions of site-c: %+v, %v; want all %d files held as an empty root", d, ok, len(files))
	}
	if out := c.mustCLI("session", "status", "s"); !strings.Contains(out, "held deletions: site-c") {
		t.Errorf("session status does not show the held deletions:\n%s", out)
	}
	waitFor(t, liveWait, "meanwhile.txt everywhere", func() bool {
		for _, h := range threeHosts {
			if b, err := os.ReadFile(livePath(c, h, "meanwhile.txt")); err != nil || string(b) != "new on b\n" {
				return false
			}
		}
		return true
	})
	holdsAll(t, c, "site-a", files)
	holdsAll(t, c, "site-b", files)
	evs, err := c.client().Events(context.Background(), "s", api.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e api.Event) bool { return e.Kind == "deletions-held" && e.Host == "site-c" }) {
		t.Errorf("no deletions-held event of site-c in the session's log: %+v", evs)
	}

	out := c.mustCLI("session", "deletions", "s", "--discard")
	if !strings.Contains(out, "discarded") {
		t.Errorf("session deletions --discard said %q", out)
	}
	waitFor(t, liveWait, "the files back on site-c", func() bool { return treesEqual(t, c) })
	holdsAll(t, c, "site-c", files)
	if d, ok := heldOf(t, c, "site-c"); ok {
		t.Fatalf("still held after the discard: %+v", d)
	}
}

// A live burst on one host that deletes most of the session's files (here
// a folder of 8 of its 10 files moved out of the root, with a guard of 5
// files and 50%) is held: the others keep the files, another change from
// the same host still propagates, and an approval deletes them
// everywhere. A delete under the guard propagates as usual.
func TestBreakerHoldsALiveBurstAndApproveDeletesIt(t *testing.T) {
	t.Parallel()
	big := numbered(8, "big/")
	files := map[string]string{"a.txt": "a\n", "b.txt": "b\n"}
	for rel, content := range big {
		files[rel] = content
	}
	c := breakerCluster(t, files, "--delete-guard-percent", "50", "--delete-guard-min", "5")

	// Under the guard: deleted everywhere, nothing held.
	if err := os.Remove(livePath(c, "site-a", "a.txt")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "a.txt deleted everywhere", func() bool {
		for _, h := range threeHosts {
			if _, err := os.Lstat(livePath(c, h, "a.txt")); err == nil {
				return false
			}
		}
		return true
	})
	if d, ok := heldOf(t, c, "site-a"); ok {
		t.Fatalf("a delete under the guard was held: %+v", d)
	}

	if err := os.Rename(livePath(c, "site-a", "big"), filepath.Join(c.dir, "big-moved-away")); err != nil {
		t.Fatal(err)
	}
	var d api.HeldDeletions
	waitFor(t, liveWait, "site-a's burst held", func() bool {
		var ok bool
		d, ok = heldOf(t, c, "site-a")
		return ok
	})
	if d.Reason != "mass-delete" || d.Files != len(big) {
		t.Fatalf("held %+v; want the %d files of big/ as a mass delete", d, len(big))
	}
	writeFile(t, c.root("site-a"), "after.txt", "after\n", time.Time{})
	waitFor(t, liveWait, "after.txt everywhere", func() bool {
		for _, h := range threeHosts[1:] {
			if b, err := os.ReadFile(livePath(c, h, "after.txt")); err != nil || string(b) != "after\n" {
				return false
			}
		}
		return true
	})
	// after.txt arrived after the burst was judged: the held paths are
	// still everywhere else.
	holdsAll(t, c, "site-b", big)
	holdsAll(t, c, "site-c", big)

	out := c.mustCLI("session", "deletions", "s", "--host", "site-a", "--approve")
	if !strings.Contains(out, "approved") {
		t.Errorf("session deletions --approve said %q", out)
	}
	waitFor(t, liveWait, "big/ deleted everywhere", func() bool {
		for _, h := range threeHosts {
			if _, err := os.Lstat(livePath(c, h, "big")); err == nil {
				return false
			}
		}
		return true
	})
	waitFor(t, liveWait, "the trees equal", func() bool { return treesEqual(t, c) })
	if d, ok := heldOf(t, c, "site-a"); ok {
		t.Fatalf("still held after the approval: %+v", d)
	}
}
