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
