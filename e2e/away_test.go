//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// Issue 14: a running session goes on with the hosts that are connected,
// and a host that returns is caught up while the others stay live.

// hostOf returns host's status in session name.
func hostOf(t *testing.T, c *cluster, name, host string) (api.SessionStatus, api.HostStatus) {
	t.Helper()
	st := c.session(name).Status
	for _, h := range st.Hosts {
		if h.Host == host {
			return st, h
		}
	}
	t.Fatalf("session %s has no host %s", name, host)
	return st, api.HostStatus{}
}

// waitLive waits until host takes part in the running session again, and
// fails the test if the session left the running phase meanwhile: the
// others never stop for it.
func waitLive(t *testing.T, c *cluster, name, host string) {
	t.Helper()
	waitFor(t, 60*time.Second, host+" live again in "+name, func() bool {
		st, h := hostOf(t, c, name, host)
		if st.Phase != api.PhaseRunning {
			t.Fatalf("session %s is %s (%s) while %s returns: the others must stay live", name, st.Phase, st.Reason, host)
		}
		return h.Connected && h.AwaySince.IsZero() && h.State != api.HostAway && h.State != api.HostCatchingUp
	})
}

// waitAway waits until host shows as away from the running session,
// which must stay running meanwhile (unless starting: a resumed session
// first starts).
func waitAway(t *testing.T, c *cluster, name, host string, starting ...bool) api.HostStatus {
	t.Helper()
	var hs api.HostStatus
	waitFor(t, 2*liveWait, host+" away from "+name, func() bool {
		st, h := hostOf(t, c, name, host)
		hs = h
		if len(starting) > 0 && st.Phase != api.PhaseFailed && st.Phase != api.PhaseStopped {
			return st.Phase == api.PhaseRunning && h.State == api.HostAway
		}
		if st.Phase != api.PhaseRunning {
			t.Fatalf("session %s is %s (%s) with %s gone: the others must go on", name, st.Phase, st.Reason, host)
		}
		return h.State == api.HostAway && !h.AwaySince.IsZero()
	})
	return hs
}

func eventsOf(t *testing.T, c *cluster, name, kind string) []api.Event {
	t.Helper()
	evs, err := c.client().Events(context.Background(), name, api.EventQuery{Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func hasContent(c *cluster, host, rel, content string) bool {
	b, err := os.ReadFile(livePath(c, host, rel))
	return err == nil && string(b) == content
}

func absentOn(c *cluster, host, rel string) bool {
	_, err := os.Lstat(livePath(c, host, rel))
	return os.IsNotExist(err)
}

// site-c's agent stops. The session stays running: a write-open on site-a
// locks site-b's copy, and changes on site-a reach site-b; the status
// (JSON and text) and the event log show site-c away since when, with
// what it has to catch up. site-c's root changes meanwhile too. Back,
// site-c is caught up, both ways, while a file stays open for writing on
// site-a throughout (its lock holds on site-b, and reaches site-c once it
// holds its copy); the session never starts over.
func TestAwayOthersGoOnAndCatchUp(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const held, edited, gone, created, mine, orig = "w/held.txt", "w/edited.txt", "w/gone.txt", "w/created.txt", "w/mine.txt", "v1\n"
	for _, h := range threeHosts {
		for _, rel := range []string{held, edited, gone} {
			writeFile(t, c.root(h), rel, orig, liveT0)
			chmod(t, c.root(h), rel, 0o664)
		}
	}
	startLive(t, c, "aw")
	imm, _ := immutableWorks(t, c.dir)
	started := c.session("aw").Status.Started

	before := time.Now()
	c.proc("agent-site-c").stop()
	hs := waitAway(t, c, "aw", "site-c")
	if hs.Connected || hs.AwaySince.Before(before) {
		t.Errorf("site-c status %+v, want disconnected, away since it stopped", hs)
	}

	// The others lock and propagate among themselves at once.
	w := openOn(t, c, "site-a", held)
	waitFor(t, liveWait, "site-a's write-open to lock site-b's copy", func() bool { return lockedOn(t, c, "site-b", held, imm) })
	writeFile(t, c.root("site-a"), edited, "edited on site-a while site-c is away\n", time.Time{})
	writeFile(t, c.root("site-a"), created, "created on site-a while site-c is away\n", time.Time{})
	if err := os.Remove(livePath(c, "site-a", gone)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "site-a's changes on site-b", func() bool {
		return hasContent(c, "site-b", edited, "edited on site-a while site-c is away\n") &&
			hasContent(c, "site-b", created, "created on site-a while site-c is away\n") && absentOn(c, "site-b", gone)
	})
	waitFor(t, liveWait, "site-c's status to count three paths to catch up", func() bool {
		_, h := hostOf(t, c, "aw", "site-c")
		return h.CatchUp >= 3
	})
	_, hs = hostOf(t, c, "aw", "site-c")
	t.Logf("site-c: %s since %s, %d to catch up", hs.State, hs.AwaySince.Format(time.RFC3339Nano), hs.CatchUp)
	if out := c.mustCLI("session", "status", "aw"); !strings.Contains(out, "away since") || !strings.Contains(out, "to catch up") {
		t.Errorf("session status does not show site-c away:\n%s", out)
	}
	if out := c.mustCLI("session", "status", "aw", "--json"); !strings.Contains(out, `"away_since"`) || !strings.Contains(out, `"catch_up"`) {
		t.Errorf("session status --json has no away_since/catch_up:\n%s", out)
	}
	if evs := eventsOf(t, c, "aw", "away"); len(evs) == 0 || evs[0].Host != "site-c" {
		t.Errorf("event log: away events %+v, want one for site-c", evs)
	}
	// site-c's own changes while its agent is down.
	writeFile(t, c.root("site-c"), mine, "made on site-c while away\n", time.Time{})
	for _, rel := range []string{held, edited} { // what its agent did not leave locked at its stop
		if lockedOn(t, c, "site-c", rel, false) {
			t.Errorf("%s locked on site-c after its agent stopped", rel)
		}
	}

	c.startAgent("site-c")
	// A write-open during the catch-up still locks the other live host.
	w2 := openOn(t, c, "site-b", created)
	waitFor(t, liveWait, "site-b's write-open during the catch-up to lock site-a's copy", func() bool {
		return lockedOn(t, c, "site-a", created, imm)
	})
	waitLive(t, c, "aw", "site-c")
	waitFor(t, liveWait, "site-c to hold what changed elsewhere", func() bool {
		return hasContent(c, "site-c", edited, "edited on site-a while site-c is away\n") &&
			hasContent(c, "site-c", created, "created on site-a while site-c is away\n") && absentOn(c, "site-c", gone)
	})
	waitFor(t, liveWait, "site-c's own new file on the others", func() bool {
		return hasContent(c, "site-a", mine, "made on site-c while away\n") && hasContent(c, "site-b", mine, "made on site-c while away\n")
	})
	waitFor(t, liveWait, "both open files locked on site-c", func() bool {
		return lockedOn(t, c, "site-c", held, imm) && lockedOn(t, c, "site-c", created, imm)
	})
	if !lockedOn(t, c, "site-b", held, imm) || !lockedOn(t, c, "site-a", created, imm) {
		t.Error("a lock taken while site-c was away or catching up did not hold on the live hosts")
	}
	if evs := eventsOf(t, c, "aw", "caught-up"); len(evs) == 0 {
		t.Error("event log has no caught-up event")
	}
	if evs := eventsOf(t, c, "aw", "interrupted"); len(evs) != 0 {
		t.Errorf("the session was interrupted: %+v", evs)
	}
	if s := c.session("aw"); !s.Status.Started.Equal(started) {
		t.Errorf("session started again at %s (first %s): the others must not be restarted", s.Status.Started, started)
	}

	rewrite(t, w, "held v2\n", true)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "the held file's new version everywhere, released", func() bool {
		return releasedOn(t, c, "site-b", held, "held v2\n", 0o664) && releasedOn(t, c, "site-c", held, "held v2\n", 0o664)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "aw")) == 0 })
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
	if s := c.session("aw"); s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}
}

// The same file changed on site-c while its agent was down and on site-a
// live: the catch-up decides it by the session's rules, as a session
// start would. Last-modified-time-wins: the later version wins both ways
// (site-a's for one file, site-c's for the other); with "Quarantine
// Offline Version Conflicts" the file goes to the File Conflict List.
func TestAwayCatchUpConflict(t *testing.T) {
	for _, quarantine := range []bool{false, true} {
		name := map[bool]string{false: "last-modified", true: "quarantine"}[quarantine]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := liveCluster(t)
			const liveWins, awayWins, orig = "c/live-wins.txt", "c/away-wins.txt", "v1\n"
			for _, h := range threeHosts {
				for _, rel := range []string{liveWins, awayWins} {
					writeFile(t, c.root(h), rel, orig, liveT0)
				}
			}
			written := time.Now()
			for _, h := range threeHosts {
				c.startAgent(h)
			}
			var extra []string
			if quarantine {
				extra = append(extra, "--quarantine-offline-conflicts")
			}
			c.createSession("cf", threeHosts, extra...)
			time.Sleep(time.Until(written.Add(settledAfter)))
			startClean(t, c, "cf")

			c.proc("agent-site-c").stop()
			waitAway(t, c, "cf", "site-c")
			older, newer := liveT0.Add(time.Hour), liveT0.Add(2*time.Hour)
			writeFile(t, c.root("site-a"), liveWins, "site-a, later\n", newer)
			writeFile(t, c.root("site-a"), awayWins, "site-a, earlier\n", older)
			waitFor(t, liveWait, "site-a's versions on site-b", func() bool {
				return hasContent(c, "site-b", liveWins, "site-a, later\n") && hasContent(c, "site-b", awayWins, "site-a, earlier\n")
			})
			writeFile(t, c.root("site-c"), liveWins, "site-c, earlier\n", older)
			writeFile(t, c.root("site-c"), awayWins, "site-c, later\n", newer)

			c.startAgent("site-c")
			waitLive(t, c, "cf", "site-c")
			if !quarantine {
				converged(t, c, liveWait, "the later version of each file everywhere", func(tree map[string]node) bool {
					return hasContent(c, "site-c", liveWins, "site-a, later\n") && hasContent(c, "site-a", awayWins, "site-c, later\n")
				})
				if s := c.session("cf"); s.Status.Quarantined != 0 || s.Status.ErrorCount != 0 {
					t.Errorf("session: %d quarantined, %d errors %v; want none", s.Status.Quarantined, s.Status.ErrorCount, s.Status.Errors)
				}
				return
			}
			list := conflictList(t, c, "cf")
			for _, rel := range []string{liveWins, awayWins} {
				if cf, ok := list[rel]; !ok || cf.Reason != "offline-version-conflict" {
					t.Errorf("%s in the File Conflict List: %+v (%v), want offline-version-conflict", rel, cf, ok)
				}
			}
			// Each host keeps its own copy until an operator decides.
			if !hasContent(c, "site-c", liveWins, "site-c, earlier\n") || !hasContent(c, "site-a", awayWins, "site-a, earlier\n") {
				t.Error("a quarantined file was overwritten")
			}
			if _, err := os.Stat(filepath.Join(c.root("site-c"), "c")); err != nil {
				t.Error(err)
			}
		})
	}
}

// A partition is not a crash (issue 14, item 3): with the hub down, the
// agents keep running, and the copies they locked for a writer elsewhere
// are released once the session's grace period (3 s here) is over, not
// kept until the hub is back. The hub back, the session locks them again
// for the writer still at work.
func TestAwayCutOffAgentReleasesAfterGrace(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const rel, orig = "p/open.txt", "open v1\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o664)
	}
	startLiveWith(t, c, "pc", "--lock-grace", "3s")
	imm, _ := immutableWorks(t, c.dir)
	w := openOn(t, c, "site-a", rel)
	waitFor(t, liveWait, "the copies on site-b and site-c to be locked", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})

	c.proc("hub").kill()
	waitFor(t, liveWait, "site-b and site-c released after the grace period, the hub still down", func() bool {
		return releasedOn(t, c, "site-b", rel, orig, 0o664) && releasedOn(t, c, "site-c", rel, orig, 0o664)
	})
	for _, h := range threeHosts {
		if p := c.proc("agent-" + h); p.exited() {
			t.Fatalf("agent %s exited while cut off from the hub: %v", h, p.err)
		}
	}
	waitFor(t, liveWait, "site-b's log to say why it released its copies", func() bool {
		return strings.Contains(agentLog(t, c, "site-b"), "cut off from the hub for the grace period")
	})

	since := time.Now()
	c.startHub()
	c.waitRunning("pc", since, 60*time.Second)
	waitFor(t, liveWait, "the copies locked again for the writer still at work", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})
	rewrite(t, w, "open v2\n", true)
	waitFor(t, liveWait, "the new content on site-b and site-c, released", func() bool {
		return releasedOn(t, c, "site-b", rel, "open v2\n", 0o664) && releasedOn(t, c, "site-c", rel, "open v2\n", 0o664)
	})
}

// The hub restarts while site-c's agent is down: the resumed session does
// not wait for it, after the hub's host wait, but goes live with site-a
// and site-b (a write-open on site-a locks site-b's copy), and site-c is
// caught up when it returns, both ways.
func TestAwayHubRestartGoesOnWithoutAHost(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const shared, fromA, fromC, orig = "r/shared.txt", "r/from-a.txt", "r/from-c.txt", "v1\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), shared, orig, liveT0)
		chmod(t, c.root(h), shared, 0o664)
	}
	startLive(t, c, "rs")
	imm, _ := immutableWorks(t, c.dir)

	c.proc("hub").kill()
	c.proc("agent-site-c").stop()
	writeFile(t, c.root("site-a"), fromA, "written on site-a while the hub was down\n", time.Time{})
	writeFile(t, c.root("site-c"), fromC, "written on site-c while it was away\n", time.Time{})
	c.startHub()
	waitAway(t, c, "rs", "site-c", true)
	waitFor(t, liveWait, "site-a's file on site-b", func() bool {
		return hasContent(c, "site-b", fromA, "written on site-a while the hub was down\n")
	})
	w := openOn(t, c, "site-a", shared)
	waitFor(t, liveWait, "site-a's write-open to lock site-b's copy, site-c away", func() bool { return lockedOn(t, c, "site-b", shared, imm) })
	if evs := eventsOf(t, c, "rs", "resumed"); len(evs) == 0 {
		t.Error("event log has no resumed event naming the host left out")
	}

	c.startAgent("site-c")
	waitLive(t, c, "rs", "site-c")
	waitFor(t, liveWait, "site-c caught up both ways, and locked for the writer on site-a", func() bool {
		return hasContent(c, "site-c", fromA, "written on site-a while the hub was down\n") &&
			hasContent(c, "site-a", fromC, "written on site-c while it was away\n") &&
			hasContent(c, "site-b", fromC, "written on site-c while it was away\n") && lockedOn(t, c, "site-c", shared, imm)
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "rs")) == 0 })
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
}

// Two hosts away at once, each changed meanwhile, and site-a goes on
// alone: they return one after the other, in either order, each caught up
// on its own (the second one also with what the first brought back), and
// all three converge with nothing lost.
func TestAwayTwoHostsReturnInTurn(t *testing.T) {
	for _, order := range [][2]string{{"site-c", "site-b"}, {"site-b", "site-c"}} {
		t.Run(order[0]+"-first", func(t *testing.T) {
			t.Parallel()
			twoAwayReturn(t, order[0], order[1])
		})
	}
}

func twoAwayReturn(t *testing.T, first, second string) {
	c := liveCluster(t)
	const fromA, edited, orig = "t/from-a.txt", "t/edited.txt", "v1\n"
	from := func(h string) string { return "t/from-" + h + ".txt" }
	for _, h := range threeHosts {
		writeFile(t, c.root(h), edited, orig, liveT0)
	}
	startLive(t, c, "tw")
	c.proc("agent-site-b").stop()
	c.proc("agent-site-c").stop()
	waitAway(t, c, "tw", "site-b")
	waitAway(t, c, "tw", "site-c")
	writeFile(t, c.root("site-a"), fromA, "from a\n", time.Time{})
	writeFile(t, c.root("site-a"), edited, "edited on a\n", time.Time{})
	writeFile(t, c.root("site-b"), from("site-b"), "from b\n", time.Time{})
	writeFile(t, c.root("site-c"), from("site-c"), "from c\n", time.Time{})
	waitFor(t, liveWait, "site-b and site-c to count what they must catch up", func() bool {
		_, b := hostOf(t, c, "tw", "site-b")
		_, cc := hostOf(t, c, "tw", "site-c")
		return b.CatchUp >= 2 && cc.CatchUp >= 2
	})

	c.startAgent(first)
	waitLive(t, c, "tw", first)
	waitFor(t, liveWait, first+" and site-a to hold each other's changes, "+second+" still away", func() bool {
		return hasContent(c, first, fromA, "from a\n") && hasContent(c, first, edited, "edited on a\n") &&
			hasContent(c, "site-a", from(first), "from "+first[len(first)-1:]+"\n")
	})
	if _, h := hostOf(t, c, "tw", second); h.State != "away" || h.CatchUp < 3 {
		t.Errorf("%s %s with %d to catch up, want away with site-a's two changes and %s's file", second, h.State, h.CatchUp, first)
	}

	c.startAgent(second)
	waitLive(t, c, "tw", second)
	converged(t, c, liveWait, "the three roots to hold every host's changes", func(tree map[string]node) bool {
		return hasContent(c, second, from(first), "from "+first[len(first)-1:]+"\n") &&
			hasContent(c, "site-a", from(second), "from "+second[len(second)-1:]+"\n") &&
			hasContent(c, first, from(second), "from "+second[len(second)-1:]+"\n") && hasContent(c, second, edited, "edited on a\n")
	})
	if s := c.session("tw"); s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}
}

// A folder renamed on site-a while site-c is away: back, site-c holds it
// under its new name only, its files unchanged.
func TestAwayFolderRenamedElsewhere(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	for _, h := range threeHosts {
		for i := range 5 {
			writeFile(t, c.root(h), fmt.Sprintf("proj/old/f%d.txt", i), fmt.Sprintf("file %d\n", i), liveT0)
		}
	}
	startLive(t, c, "rn")
	c.proc("agent-site-c").stop()
	waitAway(t, c, "rn", "site-c")
	if err := os.Rename(livePath(c, "site-a", "proj/old"), livePath(c, "site-a", "proj/new")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "the rename on site-b", func() bool {
		return absentOn(c, "site-b", "proj/old") && hasContent(c, "site-b", "proj/new/f3.txt", "file 3\n")
	})
	c.startAgent("site-c")
	waitLive(t, c, "rn", "site-c")
	converged(t, c, liveWait, "site-c to hold the folder under its new name only", func(tree map[string]node) bool {
		_, old := tree["proj/old"]
		_, renamed := tree["proj/new/f4.txt"]
		return !old && renamed
	})
	if s := c.session("rn"); s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}
}
