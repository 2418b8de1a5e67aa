//go:build linux

package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

// Issue 14, item 3: a host cut off from the hub remembers which paths
// changed while away, and its catch-up scans those, not its whole tree.

// partialTree is how many files each test's tree holds: far more than a
// catch-up of a few changes may scan.
const partialTree = 2000

// writeTree writes the same partialTree files on every host, with the same
// times, so the session's start transfers nothing.
func writeTree(t *testing.T, c *cluster) {
	t.Helper()
	for _, h := range threeHosts {
		for i := range partialTree {
			writeFile(t, c.root(h), fmt.Sprintf("d%02d/f%04d.txt", i%20, i), fmt.Sprintf("file %d\n", i), liveT0)
		}
	}
}

// catchUpScanned returns how many paths the last catch-up scan of host
// sent, and whether it was partial, from the event log.
func catchUpScanned(t *testing.T, c *cluster, name, host string) (int, bool) {
	t.Helper()
	re := regexp.MustCompile(`(partial|full) catch-up: scanned (\d+)`)
	for _, ev := range eventsOf(t, c, name, "catch-up-scan") {
		if ev.Host != host {
			continue
		}
		if m := re.FindStringSubmatch(ev.Msg); m != nil {
			n, _ := strconv.Atoi(m[2])
			t.Logf("%s: %s", host, ev.Msg)
			return n, m[1] == "partial"
		}
	}
	t.Fatalf("event log has no catch-up-scan event for %s", host)
	return 0, false
}

// changeAway makes five changes on host's root: a file modified, one
// created, one deleted, one renamed, and a new folder with a file.
func changeAway(t *testing.T, c *cluster, host string) {
	t.Helper()
	root := c.root(host)
	writeFile(t, root, "d00/f0000.txt", "modified away\n", time.Time{})
	writeFile(t, root, "d01/new.txt", "created away\n", time.Time{})
	if err := os.Remove(livePath(c, host, "d02/f0002.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(livePath(c, host, "d03/f0003.txt"), livePath(c, host, "d03/renamed.txt")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "newdir/inside.txt", "in a folder created away\n", time.Time{})
}

// awayChangesEverywhere waits for changeAway's five changes on every host.
func awayChangesEverywhere(t *testing.T, c *cluster) {
	t.Helper()
	missing := func() string {
		for _, h := range threeHosts {
			switch {
			case !hasContent(c, h, "d00/f0000.txt", "modified away\n"):
				return h + ": d00/f0000.txt not modified"
			case !hasContent(c, h, "d01/new.txt", "created away\n"):
				return h + ": d01/new.txt not created"
			case !absentOn(c, h, "d02/f0002.txt"):
				return h + ": d02/f0002.txt not deleted"
			case !absentOn(c, h, "d03/f0003.txt") || !hasContent(c, h, "d03/renamed.txt", "file 3\n"):
				return h + ": d03/f0003.txt not renamed"
			case !hasContent(c, h, "newdir/inside.txt", "in a folder created away\n"):
				return h + ": newdir/inside.txt not created"
			}
		}
		return ""
	}
	deadline := time.Now().Add(liveWait)
	for m := missing(); m != ""; m = missing() {
		if time.Now().After(deadline) {
			t.Fatalf("the changes made away are not on every host after %s: %s", liveWait, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// site-c's link is cut; five changes on site-c and one on site-a
// meanwhile (with offline delete detection, so that site-c's deletions
// propagate, as at a session start). Restored, site-c's catch-up scans the paths that changed
// (both sides), not its 2,000 files, and every host converges.
func TestPartialCatchUpAfterACut(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	writeTree(t, c)
	written := time.Now()
	c.startAgent("site-a")
	c.startAgent("site-b")
	p, link := c.startAgentLinked("site-c", wanlink.Shape{RTT: 2 * time.Millisecond})
	c.createSession("part", threeHosts, "--offline-delete-detection")
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "part")

	link.Cut()
	c.waitAgent("site-c", false, nil)
	waitAway(t, c, "part", "site-c")
	changeAway(t, c, "site-c")
	writeFile(t, c.root("site-a"), "d10/f0010.txt", "changed on site-a meanwhile\n", time.Time{})
	waitFor(t, liveWait, "site-a's change on site-b", func() bool {
		return hasContent(c, "site-b", "d10/f0010.txt", "changed on site-a meanwhile\n")
	})

	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	c.waitAgent("site-c", true, p)
	waitLive(t, c, "part", "site-c")
	awayChangesEverywhere(t, c)
	waitFor(t, liveWait, "site-a's change on site-c", func() bool {
		return hasContent(c, "site-c", "d10/f0010.txt", "changed on site-a meanwhile\n")
	})
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
	n, partial := catchUpScanned(t, c, "part", "site-c")
	// The changed paths and their folders' contents (newdir), not the tree.
	if !partial || n == 0 || n > 20 {
		t.Errorf("site-c's catch-up scanned %d paths (partial %v); want a partial scan of the few that changed, not %d", n, partial, partialTree)
	}
	if s := c.session("part"); s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}

	// A second cut: the journal was cleared once merged, so this catch-up
	// scans only what changed since.
	link.Cut()
	c.waitAgent("site-c", false, nil)
	waitAway(t, c, "part", "site-c")
	writeFile(t, c.root("site-c"), "d05/f0005.txt", "modified on the second cut\n", time.Time{})
	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	c.waitAgent("site-c", true, p)
	waitLive(t, c, "part", "site-c")
	waitFor(t, liveWait, "the second change on site-a", func() bool {
		return hasContent(c, "site-a", "d05/f0005.txt", "modified on the second cut\n")
	})
	if n, partial := catchUpScanned(t, c, "part", "site-c"); !partial || n != 2 {
		t.Errorf("the second catch-up scanned %d paths (partial %v); want the one that changed and its folder", n, partial)
	}
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
}

// site-c's agent is killed while away and started again: its journal was
// not kept while it was down, so its catch-up rescans the whole root, and
// every host still converges.
func TestPartialCatchUpAfterAgentRestartIsFull(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	writeTree(t, c)
	startLiveWith(t, c, "part", "--offline-delete-detection")

	c.proc("agent-site-c").kill()
	waitAway(t, c, "part", "site-c")
	changeAway(t, c, "site-c")
	writeFile(t, c.root("site-a"), "d10/f0010.txt", "changed on site-a meanwhile\n", time.Time{})

	c.startAgent("site-c")
	waitLive(t, c, "part", "site-c")
	awayChangesEverywhere(t, c)
	waitFor(t, liveWait, "site-a's change on site-c", func() bool {
		return hasContent(c, "site-c", "d10/f0010.txt", "changed on site-a meanwhile\n")
	})
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
	if n, partial := catchUpScanned(t, c, "part", "site-c"); partial || n < partialTree {
		t.Errorf("site-c's catch-up after its agent's restart scanned %d paths (partial %v); want its whole root", n, partial)
	}
}
