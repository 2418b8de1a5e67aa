//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// Issue 14, "bad input and faults": a host that returns with a different
// root (roles/hub/rootid.go).

// baseFiles writes n files, the same on every host.
func baseFiles(t *testing.T, c *cluster, dir string, n int) {
	t.Helper()
	for _, h := range threeHosts {
		for i := range n {
			writeFile(t, c.root(h), fmt.Sprintf("%s/%04d.txt", dir, i), fmt.Sprintf("base %d\n", i), liveT0)
		}
	}
}

// allOn fails the test unless every one of baseFiles' files is on host.
func allOn(t *testing.T, c *cluster, host, dir string, n int) {
	t.Helper()
	for i := range n {
		rel := fmt.Sprintf("%s/%04d.txt", dir, i)
		if !hasContent(c, host, rel, fmt.Sprintf("base %d\n", i)) {
			t.Fatalf("%s: %s lost or changed", host, rel)
		}
	}
}

// site-c's root is replaced while its agent is stopped: the folder is
// renamed away and a new one, with other files, made at the same path (a
// disk replaced, a share mounted elsewhere). With offline delete
// detection on, merged as a host back from being away it would delete
// every file on the others and spread its own. Back, it is refused: the
// status, the CLI and the event log say so and what to do, nothing is
// deleted or spread, and the others stay live. reset-root then takes it as
// a new host: its files go out, the others' come in, nothing is deleted.
func TestAwayRootReplacedIsRefused(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const n = 50
	baseFiles(t, c, "b", n)
	startLiveWith(t, c, "rr", "--offline-delete-detection")
	c.proc("agent-site-c").stop()
	waitAway(t, c, "rr", "site-c")

	root := c.root("site-c")
	if err := os.Rename(root, root+".old"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "new/only-c.txt", "on the new disk\n", time.Time{})
	c.startAgent("site-c")

	var hs api.HostStatus
	waitFor(t, liveWait, "site-c's root refused", func() bool {
		var st api.SessionStatus
		st, hs = hostOf(t, c, "rr", "site-c")
		if st.Phase != api.PhaseRunning {
			t.Fatalf("session %s (%s) with site-c's root refused: the others must stay live", st.Phase, st.Reason)
		}
		return strings.Contains(hs.Error, "reset-root")
	})
	if hs.State != api.HostAway || !strings.Contains(hs.Error, "not the folder the session synchronised") {
		t.Errorf("site-c: state %s, error %q; want away, its root not the session's", hs.State, hs.Error)
	}
	if evs := eventsOf(t, c, "rr", "root-refused"); len(evs) == 0 || !strings.Contains(evs[0].Msg, "peerlink session reset-root rr --host site-c") {
		t.Errorf("event log: %+v; want a root-refused event saying what to do", evs)
	}
	if out := c.mustCLI("session", "status", "rr"); !strings.Contains(out, "reset-root rr --host site-c") {
		t.Errorf("session status does not say what to do:\n%s", out)
	}
	// The others stay live, and lose nothing.
	writeFile(t, c.root("site-a"), "live/a.txt", "live on site-a\n", time.Time{})
	waitFor(t, liveWait, "site-a's change on site-b", func() bool { return hasContent(c, "site-b", "live/a.txt", "live on site-a\n") })
	for _, h := range []string{"site-a", "site-b"} {
		allOn(t, c, h, "b", n)
		if !absentOn(c, h, "new/only-c.txt") {
			t.Errorf("the refused root's file reached %s", h)
		}
	}
	if !absentOn(c, "site-c", "live/a.txt") || !absentOn(c, "site-c", "b/0000.txt") {
		t.Error("the refused root was written to")
	}

	c.mustCLI("session", "reset-root", "rr", "--host", "site-c")
	waitLive(t, c, "rr", "site-c")
	converged(t, c, liveWait, "the new root merged as a new host", func(tree map[string]node) bool {
		_, a := tree["live/a.txt"]
		_, c := tree["new/only-c.txt"]
		return a && c
	})
	for _, h := range threeHosts {
		allOn(t, c, h, "b", n)
	}
	if _, hs := hostOf(t, c, "rr", "site-c"); hs.Error != "" {
		t.Errorf("site-c still shows an error once merged: %q", hs.Error)
	}
	// Recorded anew: a restart of its agent is accepted.
	c.proc("agent-site-c").stop()
	waitAway(t, c, "rr", "site-c")
	c.startAgent("site-c")
	waitLive(t, c, "rr", "site-c")
}

// site-c's root moved to another path on the same file system (`mv`)
// while the session was stopped, and the session's root for site-c set to
// the new path: the same folder, so the start accepts it and goes on as
// before, with nothing refused, deleted or copied.
func TestRootMovedIsAccepted(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const n = 20
	baseFiles(t, c, "b", n)
	startLiveWith(t, c, "rm", "--offline-delete-detection")
	c.mustCLI("session", "stop", "rm")
	c.proc("agent-site-c").stop()
	moved := filepath.Join(c.dir, "moved-c")
	if err := os.Rename(c.root("site-c"), moved); err != nil {
		t.Fatal(err)
	}
	// A file deleted on site-c while stopped: offline delete detection
	// deletes it everywhere, which only a root taken as the session's does.
	if err := os.Remove(filepath.Join(moved, "b", "0007.txt")); err != nil {
		t.Fatal(err)
	}
	c.startAgent("site-c")
	c.mustCLI("session", "set", "rm", "--host", "site-c="+moved)
	since := time.Now()
	c.mustCLI("session", "start", "rm")
	s := c.waitRunning("rm", since, 2*liveWait)
	for _, h := range s.Status.Hosts {
		if h.Error != "" || h.State == api.HostAway {
			t.Errorf("%s: state %s, error %q; want it synced", h.Host, h.State, h.Error)
		}
	}
	if evs := eventsOf(t, c, "rm", "root-refused"); len(evs) > 0 {
		t.Errorf("the moved root was refused: %+v", evs)
	}
	waitFor(t, liveWait, "the deletion made on site-c to reach the others", func() bool {
		return absentOn(c, "site-a", "b/0007.txt") && absentOn(c, "site-b", "b/0007.txt")
	})
	if _, err := os.Stat(filepath.Join(moved, "b", "0008.txt")); err != nil {
		t.Errorf("the moved root lost a file: %v", err)
	}
}

// site-c's root emptied by hand while its agent is stopped, its marker
// with the rest, and then written to (chaos seed 1008's empty-root): the
// same folder, so the return is accepted, not refused as a replaced disk.
// The marker is written back, the new file goes out and, without offline
// delete detection, everything the root lost comes back.
func TestAwayRootEmptiedByHandIsAccepted(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const n = 20
	baseFiles(t, c, "b", n)
	startLiveWith(t, c, "re")
	root := c.root("site-c")
	marker, err := os.ReadFile(filepath.Join(root, ".peerlink", "root-id"))
	if err != nil {
		t.Fatalf("site-c's marker after the start: %v", err)
	}
	c.proc("agent-site-c").stop()
	waitAway(t, c, "re", "site-c")

	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, root, "new/only-c.txt", "written after the root was emptied\n", time.Time{})
	c.startAgent("site-c")
	waitLive(t, c, "re", "site-c")

	if evs := eventsOf(t, c, "re", "root-refused"); len(evs) > 0 {
		t.Fatalf("the emptied root was refused: %+v", evs)
	}
	waitFor(t, liveWait, "site-c's new file on the others", func() bool {
		return hasContent(c, "site-a", "new/only-c.txt", "written after the root was emptied\n") &&
			hasContent(c, "site-b", "new/only-c.txt", "written after the root was emptied\n")
	})
	waitFor(t, liveWait, "the emptied root to get its files back", func() bool {
		return hasContent(c, "site-c", fmt.Sprintf("b/%04d.txt", n-1), fmt.Sprintf("base %d\n", n-1))
	})
	for _, h := range threeHosts {
		allOn(t, c, h, "b", n)
	}
	if got, err := os.ReadFile(filepath.Join(root, ".peerlink", "root-id")); err != nil || string(got) != string(marker) {
		t.Errorf("site-c's marker %q (%v), want %q written back", got, err, marker)
	}
}
