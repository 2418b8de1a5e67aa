//go:build linux

package e2e

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

// The writer's host closes its file while its link is down (make chaos,
// seed 4): the close cannot reach the hub then. Once the link is back and
// the host caught up, its agent reports the close it could not deliver, so
// the other hosts' copies are released and get the new content at once,
// not when the lock's grace period (5 minutes) ends.
func TestLiveCloseLostWithTheLinkIsReported(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const rel, orig, next = "p/plan.txt", "plan v1\n", "plan v2, closed while the link was down\n"
	hosts := []string{"site-a", "site-b"}
	for _, h := range hosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o664)
	}
	written := time.Now()
	pa, link := c.startAgentLinked("site-a", wanlink.Shape{RTT: 2 * time.Millisecond})
	c.startAgent("site-b")
	c.createSession("lost", hosts)
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "lost")
	imm, _ := immutableWorks(t, c.dir)

	w := openOn(t, c, "site-a", rel)
	waitFor(t, liveWait, "site-b's copy locked", func() bool { return lockedOn(t, c, "site-b", rel, imm) })
	link.Cut()
	c.waitAgent("site-a", false, nil)
	rewrite(t, w, next, true)
	time.Sleep(500 * time.Millisecond) // the agent sees the close while cut off
	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	c.waitAgent("site-a", true, pa)
	waitLive(t, c, "lost", "site-a")
	waitFor(t, liveWait, "site-b released with the new content", func() bool {
		return releasedOn(t, c, "site-b", rel, next, 0o664)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "lost")) == 0 })
}
