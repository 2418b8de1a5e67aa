//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// Faults while a file is locked (issue 5, "Enforcement and recovery on a
// target"): the writer's host goes away (the lock grace period), the hub
// is killed and restarted, and in each case a writer that still has the
// file open when the session runs again gets its targets locked again.
// The test process is the user of site-a: it holds the files open.

// startLiveWith is startLive with more `session create` flags.
func startLiveWith(t *testing.T, c *cluster, name string, extra ...string) {
	t.Helper()
	written := time.Now()
	for _, h := range threeHosts {
		c.startAgent(h)
	}
	c.createSession(name, threeHosts, extra...)
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, name)
}

// lockOf returns rel's entry in the session's lock table.
func lockOf(t *testing.T, c *cluster, name, rel string) (api.Lock, bool) {
	t.Helper()
	for _, l := range locks(t, c, name) {
		if l.Path == rel {
			return l, true
		}
	}
	return api.Lock{}, false
}

// openOn opens rel on host for reading and writing, as a user's editor
// keeps a document, and closes it at the end of the test if it is still
// open.
func openOn(t *testing.T, c *cluster, host, rel string) *os.File {
	t.Helper()
	f, err := os.OpenFile(livePath(c, host, rel), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// rewrite replaces the content of the open file f and, if closeIt, closes
// it.
func rewrite(t *testing.T, f *os.File, content string, closeIt bool) {
	t.Helper()
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(content), 0); err != nil {
		t.Fatal(err)
	}
	if closeIt {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// hubLogHas reports whether the hub's log (all its runs) contains s.
func hubLogHas(t *testing.T, c *cluster, s string) bool {
	t.Helper()
	b, err := os.ReadFile(c.proc("hub").log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), s)
}

// immutableBelow lists the files below host's root that have the
// immutable flag, other than those in except.
func immutableBelow(t *testing.T, c *cluster, host string, except ...string) []string {
	t.Helper()
	out, err := exec.Command("lsattr", "-R", c.root(host)).CombinedOutput()
	if err != nil {
		return nil // no lsattr, or no inode flags here: nothing can be immutable
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !strings.Contains(f[0], "i") {
			continue
		}
		skip := false
		for _, rel := range except {
			skip = skip || f[1] == livePath(c, host, rel)
		}
		if !skip {
			found = append(found, f[1])
		}
	}
	return found
}

// The agent of site-a, where this process holds a file open for writing,
// is killed. For the session's grace period (5 s here) the copies on
// site-b and site-c stay locked and the lock table shows the lock as
// orphaned; then they are released with their original mode, and the
// session says it waits for site-a. The writer edits the file while the
// agent is down; restarted, the agent is attached by the session's new
// start-up, which brings the offline edit to the other hosts, and since the
// file is still open there it is locked again. Closed with more changes,
// the final content reaches both and the locks go.
func TestLiveGraceSourceKilled(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const rel, orig, offline, final = "g/report.txt", "report v1\n", "report v2, written while site-a's agent was down\n", "report v3, closed\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o664)
	}
	startLiveWith(t, c, "gk", "--lock-grace", "5s")
	imm, _ := immutableWorks(t, c.dir)
	if g := c.session("gk").LockGrace; g == nil || time.Duration(*g) != 5*time.Second {
		t.Fatalf("session lock grace %v, want 5s", g)
	}

	w := openOn(t, c, "site-a", rel)
	waitFor(t, liveWait, "the copies on site-b and site-c to be locked", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})
	if l, ok := lockOf(t, c, "gk", rel); !ok || !l.Until.IsZero() || l.Orphaned {
		t.Fatalf("lock %+v (listed %v), want it held for a connected writer", l, ok)
	}
	c.proc("agent-site-a").kill()

	var held api.Lock
	waitFor(t, liveWait, "the lock table to show the lock orphaned, held for the grace period", func() bool {
		l, ok := lockOf(t, c, "gk", rel)
		held = l
		return ok && l.Orphaned && !l.Until.IsZero()
	})
	checked := time.Now()
	for _, h := range []string{"site-b", "site-c"} {
		if !lockedOn(t, c, h, rel, imm) {
			if checked.After(held.Until) {
				t.Fatalf("the copy on %s was checked only after the grace period ended (%s): the machine is too slow for this test", h, held.Until)
			}
			t.Errorf("the copy on %s was released during the grace period (ends %s)", h, held.Until)
		}
	}
	// The session goes on with site-b and site-c (issue 14).
	if st, h := hostOf(t, c, "gk", "site-a"); st.Phase != api.PhaseRunning || h.State != api.HostAway {
		t.Errorf("session %s, site-a %s; want running with site-a away", st.Phase, h.State)
	}

	waitFor(t, liveWait, "site-b and site-c released after the grace period, with their original mode", func() bool {
		return releasedOn(t, c, "site-b", rel, orig, 0o664) && releasedOn(t, c, "site-c", rel, orig, 0o664)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "gk")) == 0 })
	if !hubLogHas(t, c, "source site-a disconnected; grace period 5s over") {
		t.Error("the hub's log has no release naming site-a and the grace period")
	}

	rewrite(t, w, offline, false)
	c.startAgent("site-a")
	waitLive(t, c, "gk", "site-a") // caught up, the others live throughout (issue 14)
	waitFor(t, liveWait, "the offline edit on site-b and site-c, locked again for the writer still at work", func() bool {
		for _, h := range []string{"site-b", "site-c"} {
			b, err := os.ReadFile(livePath(c, h, rel))
			if err != nil || string(b) != offline || !lockedOn(t, c, h, rel, imm) {
				return false
			}
		}
		return true
	})
	if l, ok := lockOf(t, c, "gk", rel); !ok || l.Source != "site-a" || !l.Until.IsZero() || len(l.Targets) != 2 {
		t.Errorf("lock after site-a's return %+v (listed %v), want site-a's, held, on both targets", l, ok)
	}

	rewrite(t, w, final, true)
	waitFor(t, liveWait, "the final content on site-b and site-c with their original mode", func() bool {
		return releasedOn(t, c, "site-b", rel, final, 0o664) && releasedOn(t, c, "site-c", rel, final, 0o664)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "gk")) == 0 })
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
	if s := c.session("gk"); s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}
}

// With --lock-grace 0s the targets of a writer whose host disconnects are
// released at once: with the default grace (minutes) this would time out.
// Back, the host's agent reports the file still open and it is locked
// again; closed unchanged, everything is released.
func TestLiveGraceZeroReleasesAtOnce(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const rel, orig = "z/notes.txt", "notes v1\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o640)
	}
	startLiveWith(t, c, "gz", "--lock-grace", "0s")
	imm, _ := immutableWorks(t, c.dir)

	w := openOn(t, c, "site-a", rel)
	waitFor(t, liveWait, "the copies on site-b and site-c to be locked", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})
	c.proc("agent-site-a").kill()
	waitFor(t, liveWait, "site-b and site-c released", func() bool {
		return releasedOn(t, c, "site-b", rel, orig, 0o640) && releasedOn(t, c, "site-c", rel, orig, 0o640)
	})
	if l := locks(t, c, "gz"); len(l) != 0 {
		t.Errorf("lock table with no grace period while site-a is away: %+v, want empty", l)
	}
	if !hubLogHas(t, c, "source site-a disconnected; no grace period") {
		t.Error("the hub's log has no release naming site-a")
	}

	c.startAgent("site-a")
	waitLive(t, c, "gz", "site-a") // caught up, the others live throughout (issue 14)
	waitFor(t, liveWait, "the copies locked again for the writer still at work", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "site-b and site-c released after the close", func() bool {
		return releasedOn(t, c, "site-b", rel, orig, 0o640) && releasedOn(t, c, "site-c", rel, orig, 0o640)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "gz")) == 0 })

	// The setting as the CLI changes and shows it.
	c.mustCLI("session", "stop", "gz")
	c.mustCLI("session", "set", "gz", "--truncate-ms")
	if g := c.session("gz").LockGrace; g == nil || *g != 0 {
		t.Errorf("session set without --lock-grace left it at %v, want 0s kept", g)
	}
	c.mustCLI("session", "set", "gz", "--lock-grace", "90s")
	if out := c.mustCLI("session", "status", "gz", "--json"); !strings.Contains(out, `"lock_grace": "1m30s"`) {
		t.Errorf("session status --json after set --lock-grace 90s:\n%s\nwant \"lock_grace\": \"1m30s\"", out)
	}
	if r := c.cli("session", "set", "gz", "--lock-grace", "-1s"); r.code == 0 || !strings.Contains(r.stderr, "--lock-grace") {
		t.Errorf("session set --lock-grace -1s: exit %d, stderr %q; want it refused naming the flag", r.code, r.stderr)
	}
}

// site-a's agent is killed while two files are open there, and comes back
// within the grace period (the default, minutes). Meanwhile both stay
// locked on site-b and site-c, and one of them is written and closed. The
// session's start-up brings the closed file's new content to the other
// hosts and leaves it unlocked; the other one, still open, is locked
// again; no lock is left from before.
func TestLiveGraceSourceReturns(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const keep, done, orig, doneNext, keepNext = "r/keep.txt", "r/done.txt", "v1\n", "done v2, closed while site-a's agent was down\n", "keep v2\n"
	for _, h := range threeHosts {
		for _, rel := range []string{keep, done} {
			writeFile(t, c.root(h), rel, orig, liveT0)
			chmod(t, c.root(h), rel, 0o664)
		}
	}
	startLive(t, c, "gr")
	imm, _ := immutableWorks(t, c.dir)
	if g := c.session("gr").LockGrace; g == nil || time.Duration(*g) != api.DefaultLockGrace {
		t.Fatalf("session lock grace %v, want the default %s", g, api.DefaultLockGrace)
	}

	wk, wd := openOn(t, c, "site-a", keep), openOn(t, c, "site-a", done)
	waitFor(t, liveWait, "both files locked on site-b and site-c", func() bool {
		for _, h := range []string{"site-b", "site-c"} {
			if !lockedOn(t, c, h, keep, imm) || !lockedOn(t, c, h, done, imm) {
				return false
			}
		}
		return true
	})
	c.proc("agent-site-a").kill()
	waitFor(t, liveWait, "both locks orphaned in the lock table", func() bool {
		l := locks(t, c, "gr")
		return len(l) == 2 && l[0].Orphaned && l[1].Orphaned && !l[0].Until.IsZero()
	})
	for _, h := range []string{"site-b", "site-c"} {
		if !lockedOn(t, c, h, keep, imm) || !lockedOn(t, c, h, done, imm) {
			t.Errorf("a copy on %s was released within the grace period", h)
		}
	}
	if st, h := hostOf(t, c, "gr", "site-a"); st.Phase != api.PhaseRunning || h.State != api.HostAway {
		t.Errorf("session %s, site-a %s; want running with site-a away", st.Phase, h.State)
	}

	rewrite(t, wd, doneNext, true)
	c.startAgent("site-a")
	waitLive(t, c, "gr", "site-a") // caught up, the others live throughout (issue 14)
	waitFor(t, liveWait, "the still open file locked again on site-b and site-c", func() bool {
		return lockedOn(t, c, "site-b", keep, imm) && lockedOn(t, c, "site-c", keep, imm)
	})
	waitFor(t, liveWait, "the file closed meanwhile released on site-b and site-c with its new content", func() bool {
		return releasedOn(t, c, "site-b", done, doneNext, 0o664) && releasedOn(t, c, "site-c", done, doneNext, 0o664)
	})
	if l := locks(t, c, "gr"); len(l) != 1 || l[0].Path != keep || l[0].Source != "site-a" || !l[0].Until.IsZero() || len(l[0].Targets) != 2 {
		t.Errorf("lock table after site-a's return: %+v, want only %s, held by site-a on both targets", l, keep)
	}
	for _, h := range []string{"site-b", "site-c"} {
		if left := immutableBelow(t, c, h, keep); len(left) > 0 {
			t.Errorf("immutable on %s after site-a's return: %v", h, left)
		}
	}

	rewrite(t, wk, keepNext, true)
	waitFor(t, liveWait, "the last close's content on site-b and site-c, released", func() bool {
		return releasedOn(t, c, "site-b", keep, keepNext, 0o664) && releasedOn(t, c, "site-c", keep, keepNext, 0o664)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "gr")) == 0 })
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
}

// The hub is killed (SIGKILL) and restarted while a writer on site-a holds
// a file open: once the session runs again, site-b and site-c are locked
// again for it (each agent undid its locks as it was attached anew, and
// site-a's reported the file still open). Closed with changes, the new
// content reaches both and the locks go.
func TestLiveHubRestartRelocksOpenWriter(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const rel, orig, next = "h/open.txt", "open v1\n", "open v2, closed after the hub's restart\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o664)
	}
	startLive(t, c, "hr")
	imm, _ := immutableWorks(t, c.dir)

	w := openOn(t, c, "site-a", rel)
	waitFor(t, liveWait, "the copies on site-b and site-c to be locked", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})
	c.proc("hub").kill()
	since := time.Now()
	c.startHub()
	c.waitRunning("hr", since, 60*time.Second)
	waitFor(t, liveWait, "the restarted hub's lock table to list site-a's lock on both targets", func() bool {
		l, ok := lockOf(t, c, "hr", rel)
		return ok && l.Source == "site-a" && len(l.Targets) == 2
	})
	for _, h := range []string{"site-b", "site-c"} {
		if !lockedOn(t, c, h, rel, imm) {
			t.Errorf("the copy on %s is not locked after the hub's restart while the writer still has it open", h)
		}
	}

	rewrite(t, w, next, true)
	waitFor(t, liveWait, "the new content on site-b and site-c with their original mode", func() bool {
		return releasedOn(t, c, "site-b", rel, next, 0o664) && releasedOn(t, c, "site-c", rel, next, 0o664)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "hr")) == 0 })
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
}

// The hub is killed while site-a's writers hold two files open, and both
// are closed before it is back: one written, one not. After the restart
// nothing is left locked on site-b and site-c, and the written file's new
// content is everywhere.
func TestLiveHubRestartWriterClosedMeanwhile(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const edit, idle, orig, next = "h/edit.txt", "h/idle.txt", "v1\n", "edit v2, closed while the hub was down\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), edit, orig, liveT0)
		chmod(t, c.root(h), edit, 0o664)
		writeFile(t, c.root(h), idle, orig, liveT0)
		chmod(t, c.root(h), idle, 0o640)
	}
	startLive(t, c, "hc")
	imm, _ := immutableWorks(t, c.dir)

	we, wi := openOn(t, c, "site-a", edit), openOn(t, c, "site-a", idle)
	waitFor(t, liveWait, "both files locked on site-b and site-c", func() bool {
		for _, h := range []string{"site-b", "site-c"} {
			if !lockedOn(t, c, h, edit, imm) || !lockedOn(t, c, h, idle, imm) {
				return false
			}
		}
		return true
	})
	c.proc("hub").kill()
	rewrite(t, we, next, true)
	if err := wi.Close(); err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	c.startHub()
	c.waitRunning("hc", since, 60*time.Second)
	waitFor(t, liveWait, "the new content and original modes on site-b and site-c", func() bool {
		for _, h := range []string{"site-b", "site-c"} {
			if !releasedOn(t, c, h, edit, next, 0o664) || !releasedOn(t, c, h, idle, orig, 0o640) {
				return false
			}
		}
		return true
	})
	for _, h := range []string{"site-b", "site-c"} {
		if left := immutableBelow(t, c, h); len(left) > 0 {
			t.Errorf("immutable on %s after the hub's restart: %v", h, left)
		}
	}
	if l := locks(t, c, "hc"); len(l) != 0 {
		t.Errorf("lock table after the restart: %+v, want empty", l)
	}
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
}
