//go:build linux

package e2e

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// noTempFiles fails the test if a transfer's temp file is left below any
// root.
func noTempFiles(t *testing.T, c *cluster) {
	t.Helper()
	for _, h := range threeHosts {
		filepath.WalkDir(c.root(h), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), ".peerlink-tmp-") {
				t.Errorf("temp file left on %s: %s", h, p)
			}
			return nil
		})
	}
}

// The hub killed (kill -9) while site-c is being caught up: restarted, it
// resumes the session, site-c is caught up again, and every host converges
// on every change made on both sides while it was away; no lock is left
// listed and no temp file below any root.
func TestAwayHubKilledDuringCatchUp(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const n = 400
	for _, h := range threeHosts {
		writeFile(t, c.root(h), "k/base.txt", "base\n", liveT0)
	}
	startLive(t, c, "hk")
	c.proc("agent-site-c").stop()
	waitAway(t, c, "hk", "site-c")
	for i := range n {
		writeFile(t, c.root("site-a"), fmt.Sprintf("k/a/%03d.txt", i), strings.Repeat(fmt.Sprintf("site-a %d\n", i), 200), time.Time{})
		writeFile(t, c.root("site-c"), fmt.Sprintf("k/c/%03d.txt", i), strings.Repeat(fmt.Sprintf("site-c %d\n", i), 200), time.Time{})
	}
	waitFor(t, liveWait, "site-a's files on site-b", func() bool {
		return hasContent(c, "site-b", fmt.Sprintf("k/a/%03d.txt", n-1), strings.Repeat(fmt.Sprintf("site-a %d\n", n-1), 200))
	})

	c.startAgent("site-c")
	waitFor(t, liveWait, "site-c's catch-up to start", func() bool {
		_, h := hostOf(t, c, "hk", "site-c")
		return h.State == api.HostCatchingUp || h.State != api.HostAway && h.Connected
	})
	_, h := hostOf(t, c, "hk", "site-c")
	t.Logf("hub killed with site-c %s", h.State)
	c.proc("hub").kill()
	since := time.Now()
	c.startHub()
	c.waitRunning("hk", since, 90*time.Second)
	waitLive(t, c, "hk", "site-c")
	converged(t, c, 2*liveWait, "every change of both sides on every host", func(tree map[string]node) bool {
		for i := range n {
			if _, ok := tree[fmt.Sprintf("k/a/%03d.txt", i)]; !ok {
				return false
			}
			if _, ok := tree[fmt.Sprintf("k/c/%03d.txt", i)]; !ok {
				return false
			}
		}
		return true
	})
	for i := 0; i < n; i += 37 {
		for _, host := range threeHosts {
			if !hasContent(c, host, fmt.Sprintf("k/c/%03d.txt", i), strings.Repeat(fmt.Sprintf("site-c %d\n", i), 200)) {
				t.Errorf("k/c/%03d.txt on %s is not site-c's", i, host)
			}
		}
	}
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "hk")) == 0 })
	noTempFiles(t, c)
	for _, host := range threeHosts {
		if bad := immutableBelow(t, c, host); len(bad) > 0 {
			t.Errorf("left immutable on %s: %v", host, bad)
		}
	}
	if s := c.session("hk"); s.Status.Quarantined != 0 {
		t.Errorf("session: %d quarantined; want none", s.Status.Quarantined)
	}
}

// site-c's clock jumps three hours ahead while it is away (its agent comes
// back with --clock-offset 3h, and its user's save is stamped by that
// clock). The same file was saved on site-a a moment after, in real time:
// by the two modification times site-c's save is three hours later, but
// the hub measured the jump, so the catch-up does not decide by them: the
// file goes to the File Conflict List as clock-skew, both copies kept
// (without the measurement site-c's older save would win).
func TestAwayClockJumpedIsQuarantined(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const rel = "j/plan.txt"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, "v1\n", liveT0)
	}
	startLive(t, c, "cj")
	c.proc("agent-site-c").stop()
	waitAway(t, c, "cj", "site-c")
	// site-c's user saves first, site-a's a moment later: by the times
	// stamped, site-c's save is three hours later.
	writeFile(t, c.root("site-c"), rel, "saved on site-c, its clock 3h ahead\n", time.Now().Add(3*time.Hour))
	time.Sleep(50 * time.Millisecond) // two saves, one after the other, as two users make them
	writeFile(t, c.root("site-a"), rel, "saved on site-a\n", time.Now())
	waitFor(t, liveWait, "site-a's save on site-b", func() bool { return hasContent(c, "site-b", rel, "saved on site-a\n") })

	p := c.start("agent-site-c", "agent", "--name", "site-c", "--broker", c.brokerWS, "--token-file", c.tokenFile(),
		"--data", filepath.Join(c.dir, "agent-site-c"), "--clock-offset", "3h")
	c.waitAgent("site-c", true, p)
	waitLive(t, c, "cj", "site-c")
	list := conflictList(t, c, "cj")
	if cf, ok := list[rel]; !ok || cf.Reason != "clock-skew" {
		t.Fatalf("%s in the File Conflict List: %+v (%v), want clock-skew", rel, cf, ok)
	}
	if !hasContent(c, "site-a", rel, "saved on site-a\n") || !hasContent(c, "site-c", rel, "saved on site-c, its clock 3h ahead\n") {
		t.Error("a copy of the skewed conflict was overwritten")
	}
}
