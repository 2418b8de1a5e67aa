//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
	"github.com/peerlink/peerlink/web/api"
)

// startAgentLinked starts an agent named host whose link to the broker
// goes through an emulated WAN link shaped s (testkit/wanlink), and waits
// until the hub sees it. The test slows, cuts and restores the link; its
// end closes it.
func (c *cluster) startAgentLinked(host string, s wanlink.Shape) (*proc, *wanlink.Link) {
	c.t.Helper()
	scheme, _, ok := strings.Cut(c.brokerWS, "://")
	if !ok {
		c.t.Fatalf("broker URL %q has no scheme", c.brokerWS)
	}
	link, err := wanlink.Start(fmt.Sprintf("127.0.0.1:%d", c.brkPort), s)
	if err != nil {
		c.t.Fatal(err)
	}
	// Closed at the test's end, before the cluster's processes stop (last
	// registered, first run): the agent sees its broker go away first.
	c.t.Cleanup(link.Close)
	p := c.start("agent-"+host, append([]string{"agent", "--name", host, "--broker", scheme + "://" + link.Addr(),
		"--token-file", c.tokenFile(), "--data", filepath.Join(c.dir, "agent-"+host)}, c.agentArgs...)...)
	c.waitAgent(host, true, p)
	return p, link
}

// hostConnected reports what session status says of host's connection.
func hostConnected(t *testing.T, s api.Session, host string) bool {
	t.Helper()
	i := slices.IndexFunc(s.Status.Hosts, func(h api.HostStatus) bool { return h.Host == host })
	if i < 0 {
		t.Fatalf("session status lists no host %s: %+v", host, s.Status.Hosts)
	}
	return s.Status.Hosts[i].Connected
}

// An agent behind a slow link (20 ms round trip) converges a live change;
// the link cut, the hub reports the agent gone; restored, the agent comes
// back, the session runs again and the next change reaches it.
func TestAgentOverEmulatedWANConvergesAndReconnectsAfterACut(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	c.startAgent("site-a")
	p, link := c.startAgentLinked("site-b", wanlink.Shape{RTT: 20 * time.Millisecond})
	rootA, rootB := c.root("site-a"), c.root("site-b")
	writeFile(t, rootA, "before.txt", "written before the start", liveT0)
	c.createSession("wan", []string{"site-a", "site-b"})
	c.mustCLI("session", "start", "wan", "--wait")
	if got := readFile(t, rootB, "before.txt"); got != "written before the start" {
		t.Fatalf("site-b's before.txt after the start: %q", got)
	}

	waitHolds := func(rel, content string) {
		t.Helper()
		writeFile(t, rootA, rel, content, time.Time{})
		waitFor(t, liveWait, "site-b holding "+rel, func() bool {
			b, err := os.ReadFile(filepath.Join(rootB, rel))
			return err == nil && string(b) == content
		})
	}
	waitHolds("live.txt", "changed while the session runs")
	if up, down := link.Bytes(); up == 0 || down == 0 {
		t.Fatalf("the link carried %d bytes up and %d down: site-b's agent does not go through it", up, down)
	}

	link.Cut()
	c.waitAgent("site-b", false, nil)
	waitFor(t, liveWait, "session status showing site-b disconnected", func() bool {
		return !hostConnected(t, c.session("wan"), "site-b")
	})

	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	c.waitAgent("site-b", true, p)
	// The session went on without site-b (issue 14): it is caught up.
	waitLive(t, c, "wan", "site-b")
	waitHolds("after.txt", "changed after the link came back")
}
